// A manual check of nixos/terraform/*.tf with HashiCorp's own HCL libraries, built
// to WebAssembly and published on npm (no Terraform CLI is installable here):
// hcl2json's parse is hashicorp/hcl v2's parser, hcl-tools' format is
// hclwrite.Format, the formatter `terraform fmt` is built on.
//
//   npm install --prefix /tmp/hcl @cdktf/hcl2json@0.21.0 @cdktf/hcl-tools@0.21.0
//   NODE_PATH=/tmp/hcl/node_modules node tests/nixos/terraform-hcl-check.js nixos/terraform/*.tf
const fs = require("fs");
const { format } = require("@cdktf/hcl-tools");
const { parse } = require("@cdktf/hcl2json");
(async () => {
  let bad = 0;
  for (const f of process.argv.slice(2)) {
    const src = fs.readFileSync(f, "utf8");
    await parse(f, src);                       // HashiCorp's HCL2 parser (throws on a syntax error)
    const out = await format(src);             // hclwrite.Format, the core of terraform fmt
    if (out !== src) { bad++; console.log("NOT FORMATTED: " + f); console.log(out); }
    else console.log("ok: " + f);
  }
  process.exit(bad ? 1 : 0);
})().catch(e => { console.error(e); process.exit(2); });
