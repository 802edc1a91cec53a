// Neon's own client (@neondatabase/api-client, generated from the same spec), unchanged,
// against the emulator: the mission flows a platform would script with it.
// Usage: node flow.js <base_url> <credentials.json>; prints one JSON object with what it saw.
"use strict";
const fs = require("fs");
const { createApiClient } = require("@neondatabase/api-client");

async function settle(api, projectId, operations) {
  for (const op of operations || []) {
    for (let i = 0; i < 600; i++) {
      const { data } = await api.getProjectOperation(projectId, op.id);
      if (["finished", "skipped", "cancelled"].includes(data.operation.status)) break;
      if (["error", "failed"].includes(data.operation.status)) {
        throw new Error(`operation ${op.id} ${data.operation.action} ${data.operation.status}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function main() {
  const [baseURL, credsPath] = process.argv.slice(2);
  const creds = JSON.parse(fs.readFileSync(credsPath, "utf8"));
  const free = createApiClient({ apiKey: creds.orgs.free.api_key, baseURL });
  const personal = createApiClient({ apiKey: creds.personal_api_key, baseURL });
  const seen = {};

  const created = await free.createProject({
    project: {
      name: "ts-client-tenant",
      settings: { quota: { active_time_seconds: 360000, logical_size_bytes: 536870912 } },
      default_endpoint_settings: { autoscaling_limit_min_cu: 0.25, autoscaling_limit_max_cu: 2,
                                   suspend_timeout_seconds: 300 },
    },
  });
  const projectId = created.data.project.id;
  await settle(free, projectId, created.data.operations);
  seen.created_status = created.status;
  seen.quota = created.data.project.settings.quota;

  const listed = await free.listProjects({ search: "ts-client" });
  seen.listed = listed.data.projects.map((p) => p.id);

  const uri = await free.getConnectionUri({ projectId, database_name: "neondb",
                                            role_name: "neondb_owner", pooled: true });
  seen.pooled_has_pooler_host = uri.data.uri.includes(
    created.data.connection_uris[0].connection_parameters.pooler_host);

  const branch = await free.createProjectBranch(projectId, {
    branch: { name: "dev" }, endpoints: [{ type: "read_write" }],
  });
  await settle(free, projectId, branch.data.operations);
  const branches = await free.listProjectBranches({ projectId });
  seen.branches = branches.data.branches.map((b) => b.name).sort();

  const moved = await personal.transferProjectsFromOrgToOrg(creds.orgs.free.id, {
    destination_org_id: creds.orgs.paid.id, project_ids: [projectId],
  });
  seen.transfer_status = moved.status;
  const paid = createApiClient({ apiKey: creds.orgs.paid.api_key, baseURL });
  const after = await paid.getProject(projectId);
  seen.org_after_transfer = after.data.project.org_id;

  try {
    await free.getProject(projectId);
    seen.free_key_after_transfer = 200;
  } catch (err) {
    seen.free_key_after_transfer = err.response ? err.response.status : String(err);
  }

  const deleted = await paid.deleteProject(projectId);
  seen.deleted_status = deleted.status;
  process.stdout.write(JSON.stringify(seen));
}

main().catch((err) => {
  const body = err.response ? JSON.stringify(err.response.data) : "";
  process.stderr.write(`${err.message} ${body}\n`);
  process.exit(1);
});
