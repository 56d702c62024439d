// Validate a .glb with the Khronos glTF validator; prints the JSON report's summary.
const fs = require("fs");
const validator = require(process.argv[2]);
const data = new Uint8Array(fs.readFileSync(process.argv[3]));
validator.validateBytes(data).then((report) => {
  const issues = report.issues;
  console.log(JSON.stringify({
    numErrors: issues.numErrors, numWarnings: issues.numWarnings,
    messages: issues.messages.map((m) => `${m.severity} ${m.code} ${m.pointer || ""}: ${m.message}`),
  }));
}).catch((e) => { console.error(String(e)); process.exit(3); });
