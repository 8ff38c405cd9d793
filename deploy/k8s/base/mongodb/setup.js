// Run once by the dief-mongodb-setup Job (mongosh, as the root user): the replica set of
// the three members, then one database per service with its own user, allowed only that
// database (readWrite: documents, indexes, GridFS, transactions). Idempotent.
const members = [0, 1, 2].map((i) => ({
  _id: i,
  host: `dief-mongodb-${i}.dief-mongodb-headless:27017`,
}));
try {
  rs.status();
} catch (e) {
  if (e.codeName !== "NotYetInitialized") throw e;
  rs.initiate({ _id: "rs0", members });
}
while (!db.hello().isWritablePrimary) sleep(1000); // this member becomes the primary
const admin = db.getSiblingDB("admin");
for (const service of ["contacts", "meetings", "cases"]) {
  const user = `dief-${service}`;
  const pwd = process.env[`MONGODB_${service.toUpperCase()}_PASSWORD`];
  if (!pwd) throw new Error(`MONGODB_${service.toUpperCase()}_PASSWORD is not set`);
  const roles = [{ role: "readWrite", db: `dief_${service}` }];
  if (admin.getUser(user)) {
    admin.updateUser(user, { pwd, roles });
  } else {
    admin.createUser({ user, pwd, roles });
  }
}
print("replica set rs0 and the service users are in place");
