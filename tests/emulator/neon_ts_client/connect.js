// node-postgres (`pg`, the driver Neon's docs show for Node) with the URIs the emulator's API
// hands out: TLS verified against the emulator's CA (sslrootcert) and SCRAM-SHA-256-PLUS
// (enableChannelBinding; `pg` ignores channel_binding in a URI). Prints one JSON line per URI.
// Usage: node connect.js <ca.pem> <uri>...
"use strict";
const { Client } = require("pg");

async function main() {
  const [ca, ...uris] = process.argv.slice(2);
  const out = [];
  for (const uri of uris) {
    const sep = uri.includes("?") ? "&" : "?";
    const client = new Client({
      connectionString: `${uri}${sep}sslrootcert=${encodeURIComponent(ca)}`,
      enableChannelBinding: true,
    });
    await client.connect();
    const r = await client.query("SELECT current_user AS who, current_setting('server_version') AS v");
    out.push({ who: r.rows[0].who, version: r.rows[0].v, tls: Boolean(client.connection.stream.encrypted) });
    await client.end();
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err) => {
  process.stderr.write(String(err && err.message) + "\n");
  process.exit(1);
});
