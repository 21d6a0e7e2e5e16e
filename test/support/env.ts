/** Connection strings prepared by globalSetup for this run. */
function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with \`npm test\` (jest's globalSetup sets it)`);
  return value;
}

export const testDb = {
  /** Superuser on the server's `postgres` database (creates scratch databases). */
  get rootUrl() {
    return required("TEST_ROOT_URL");
  },
  /** Superuser on the test database: bypasses RLS; used to arrange data and prove it exists. */
  get superuserUrl() {
    return required("TEST_SUPERUSER_URL");
  },
  /** The owner on the test database. */
  get ownerUrl() {
    return required("TEST_OWNER_URL");
  },
  /** The authenticator on the test database: what the API connects as. */
  get authUrl() {
    return required("TEST_AUTH_URL");
  },
};
