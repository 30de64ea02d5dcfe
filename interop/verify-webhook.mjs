// Verifies a webhook request Gatehouse sent, with the Standard Webhooks
// reference library for JavaScript (standardwebhooks, pinned by the lock
// file): the verification example of docs/alerts.md, run by the e2e tests.
//
//   node verify-webhook.mjs request.json
//
// request.json holds {"secret": "whsec_…", "headers": {…}, "body": "…"}.
// Prints the verified payload; exits 1 if it does not verify.
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const req = JSON.parse(readFileSync(process.argv[2], "utf8"));
// The library takes the secret without its whsec_ prefix.
const wh = new Webhook(req.secret.replace(/^whsec_/, ""));
try {
  const payload = wh.verify(req.body, req.headers);
  process.stdout.write(JSON.stringify(payload) + "\n");
} catch (err) {
  process.stderr.write(`does not verify: ${err.message}\n`);
  process.exit(1);
}
