// GraphiQL for the DIEF Exchange gateway, with every asset served by the gateway itself.
(function () {
  var root = document.getElementById("graphiql");
  var endpoint = root.getAttribute("data-endpoint");

  // The prefilled "Authorization: Bearer " without a token yet is left out, so that the
  // schema loads for the documentation explorer before a token is pasted in.
  function withoutEmptyBearer(url, init) {
    var headers = Object.assign({}, (init && init.headers) || {});
    Object.keys(headers).forEach(function (name) {
      if (name.toLowerCase() === "authorization" && String(headers[name]).trim() === "Bearer") {
        delete headers[name];
      }
    });
    return window.fetch(url, Object.assign({}, init, { headers: headers }));
  }

  var fetcher = GraphiQL.createFetcher({ url: endpoint, fetch: withoutEmptyBearer });
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultHeaders: JSON.stringify({ Authorization: "Bearer " }, null, 2),
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultQuery: "{\n  states(first: 5) {\n    totalCount\n    edges { node { code name } }\n  }\n}\n",
    })
  );
})();
