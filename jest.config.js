/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+\\.(t|j)s$": [
      "@swc/jest",
      { jsc: { parser: { syntax: "typescript" }, target: "es2023" }, module: { type: "commonjs" } },
    ],
  },
  // jose ships only ES modules; compile it like our own code for jest's CommonJS runtime.
  transformIgnorePatterns: ["/node_modules/(?!jose/)"],
  // One Postgres for the whole run: started and migrated once, shared by every worker.
  globalSetup: "<rootDir>/test/support/globalSetup.ts",
  globalTeardown: "<rootDir>/test/support/globalTeardown.ts",
  testTimeout: 30000,
};
