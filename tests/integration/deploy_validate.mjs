// SPDX-License-Identifier: MIT
// Validates Kubernetes objects against the API's OpenAPI schemas, offline,
// with the kubernetes-models packages (types, required fields, enums and
// formats of every field the schemas describe; unknown fields are not
// reported: the schemas allow them). Used by test_deploy_files.sh.
//
//   node deploy_validate.mjs MODELS_DIR < objects.json
//
// MODELS_DIR holds node_modules/ with kubernetes-models and
// @kubernetes-models/prometheus-operator. objects.json is a JSON array of
// objects. Prints one line per object; exits 1 when one is invalid or of a
// kind it has no schema for.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node deploy_validate.mjs MODELS_DIR < objects.json");
  process.exit(2);
}
const modules = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "networking.k8s.io/v1": "kubernetes-models/networking.k8s.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};
const objects = JSON.parse(readFileSync(0, "utf8"));
let bad = 0;
for (const obj of objects) {
  const what = `${obj.apiVersion} ${obj.kind} ${obj.metadata?.namespace ?? "-"}/${obj.metadata?.name}`;
  const mod = modules[obj.apiVersion];
  if (!mod) {
    console.log(`no schema for ${what}`);
    bad++;
    continue;
  }
  let Model;
  try {
    const m = await import(pathToFileURL(join(dir, "node_modules", mod, `${obj.kind}.js`)).href);
    Model = m[obj.kind];
  } catch (e) {
    console.log(`no schema for ${what}: ${e.message}`);
    bad++;
    continue;
  }
  try {
    new Model(obj).validate();
    console.log(`valid: ${what}`);
  } catch (e) {
    console.log(`INVALID: ${what}: ${e.message}`);
    bad++;
  }
}
process.exit(bad ? 1 : 0);
