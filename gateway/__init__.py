"""The federated gateway: one GraphQL endpoint in front of the subgraphs."""
