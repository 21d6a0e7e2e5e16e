/*
 * docker-compose.yml cannot be run here (no Docker), so it is read instead and held
 * to what the code really does: every variable it sets is one the code reads, the
 * values pass src/config.ts, each service connects as the role its job needs, the
 * one-shot steps run in order, and the API's health check asks a route that the
 * real app answers "ready".
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { loadConfig } from "../../src/config";
import { roleNames } from "../../src/db/roles";
import { ROOT_DIR } from "../../src/paths";
import { OWNER_ROLE } from "../../scripts/db/names";
import { jwtConfig, startApi } from "../support/api";

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
}

const source = (file: string) => readFileSync(path.join(ROOT_DIR, file), "utf8");

/** Compose's `${NAME:-default}` as `docker compose up` sees it with no .env file. */
const interpolate = (value: string) => value.replace(/\$\{\w+:-([^}]*)\}/g, "$1");

const compose = parse(source("docker-compose.yml"), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const environment = (name: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries(services[name]?.environment ?? {}).map(([key, value]) => [key, interpolate(String(value))]),
  );
const scripts = (JSON.parse(source("package.json")) as { scripts: Record<string, string> }).scripts;
/** Services that run this repository's code (the rest are images such as postgres). */
const ours = Object.keys(services).filter((name) => services[name]!.command?.[0] === "npm");

/** The variables loadConfig looks at, recorded by handing it environments that note every read. */
function variablesConfigReads(): Set<string> {
  const read = new Set<string>();
  const recording = (values: Record<string, string>) =>
    new Proxy(values as NodeJS.ProcessEnv, {
      get: (target, name) => {
        if (typeof name === "string") read.add(name);
        return typeof name === "string" ? target[name] : undefined;
      },
    });
  loadConfig(recording({}));
  // The JWT settings beyond the key itself are read only once a key is given.
  loadConfig(recording({ JWT_SECRET: "x".repeat(32) }));
  return read;
}

it("runs the database, the one-shot steps and the API", () => {
  expect(Object.keys(services).sort()).toEqual(["api", "install", "migrate", "postgres", "setup"]);
  expect(ours.sort()).toEqual(["api", "install", "migrate", "setup"]);
});

it("sets no variable that neither src/config.ts nor the db:* commands read", () => {
  const configReads = variablesConfigReads();
  const cli = source("scripts/db/cli.ts");
  for (const name of ours) {
    for (const variable of Object.keys(environment(name))) {
      // The owner's and superuser's connections are the db:* commands' (graphile-migrate's), not the API's.
      const known = configReads.has(variable) || new RegExp(`\\b${variable}\\b`).test(cli);
      expect({ service: name, variable, known }).toEqual({ service: name, variable, known: true });
    }
  }
});

it("gives the API values src/config.ts accepts, in development and in production", () => {
  const env = environment("api");
  expect(() => loadConfig(env)).not.toThrow();
  expect(loadConfig({ ...env, NODE_ENV: "production" })).toMatchObject({ host: "0.0.0.0", port: 3000 });
});

it("connects the API only as the authenticator, and migrates as the owner without a superuser connection", () => {
  const api = environment("api");
  const migrate = environment("migrate");
  const setup = environment("setup");

  expect(Object.keys(api).filter((key) => key.endsWith("DATABASE_URL"))).toEqual(["AUTH_DATABASE_URL"]);
  expect(new URL(api.AUTH_DATABASE_URL!).username).toBe(roleNames().authenticator);
  expect(Object.keys(migrate).filter((key) => key.endsWith("DATABASE_URL"))).toEqual(["DATABASE_URL"]);
  expect(new URL(migrate.DATABASE_URL!).username).toBe(OWNER_ROLE);
  // The setup step sets the passwords the other two then log in with.
  expect(setup.DATABASE_URL).toBe(migrate.DATABASE_URL);
  expect(setup.AUTH_DATABASE_URL).toBe(api.AUTH_DATABASE_URL);
  expect(new URL(setup.ROOT_DATABASE_URL!).password).toBe(environment("postgres").POSTGRES_PASSWORD);
  for (const url of [api.AUTH_DATABASE_URL!, migrate.DATABASE_URL!, setup.ROOT_DATABASE_URL!]) {
    expect(new URL(url).host).toBe("postgres:5432");
  }
});

it("runs only npm scripts that exist: install, then setup, then migrate, then the API", () => {
  const npmRun = (name: string) => services[name]!.command!.slice(2)[0];
  expect(services.install!.command).toEqual(["npm", "ci", "--no-audit", "--no-fund"]);
  expect([npmRun("setup"), npmRun("migrate"), services.api!.command![1]]).toEqual(["db:setup", "migrate", "start"]);
  for (const script of [npmRun("setup")!, npmRun("migrate")!, "start"]) expect(scripts[script]).toBeDefined();

  expect(services.setup!.depends_on).toEqual({
    postgres: { condition: "service_healthy" },
    install: { condition: "service_completed_successfully" },
  });
  expect(services.migrate!.depends_on).toEqual({ setup: { condition: "service_completed_successfully" } });
  expect(services.api!.depends_on).toEqual({ migrate: { condition: "service_completed_successfully" } });
  for (const oneShot of ["install", "setup", "migrate"]) expect(services[oneShot]!.restart).toBe("no");
});

it("health-checks Postgres with pg_isready", () => {
  expect(services.postgres!.healthcheck!.test.join(" ")).toMatch(/pg_isready -U postgres/);
});

it("health-checks the API on the port it listens on, with a route the real app answers ready", async () => {
  const check = services.api!.healthcheck!.test.join(" ");
  const [, port, route] = /http:\/\/127\.0\.0\.1:(\d+)(\/\S+?)['"]/.exec(check) ?? [];
  expect(route).toBe("/health/ready");
  expect(port).toBe(environment("api").PORT);

  const api = await startApi({ jwt: jwtConfig({ kind: "secret", secret: "s".repeat(32) }) });
  try {
    const response = await fetch(`${api.url}${route}`);
    expect({ status: response.status, body: await response.json() }).toMatchObject({
      status: 200,
      body: { status: "ready" },
    });
  } finally {
    await api.close();
  }
});
