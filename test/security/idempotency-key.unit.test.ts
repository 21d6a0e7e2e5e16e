/*
 * The Idempotency-Key header as the API reads it, and the fingerprint a retry must
 * match: pure functions, no server.
 */
import { canonicalJson, fingerprintOf, parseIdempotencyKey } from "../../src/http/idempotencyKey";

describe("parseIdempotencyKey", () => {
  it.each([
    ["a bare key (Stripe's form)", ["8e03978e-40d5-43e8-bc93-6894a57f9324"], "8e03978e-40d5-43e8-bc93-6894a57f9324"],
    ["the draft's sf-string", ['"8e03978e"'], "8e03978e"],
    ["an sf-string with escapes", ['"a\\"b\\\\c"'], 'a"b\\c'],
    ["inner spaces", ["order 42 retry"], "order 42 retry"],
    ["255 characters", ["k".repeat(255)], "k".repeat(255)],
  ])("accepts %s", (_what, values, key) => {
    expect(parseIdempotencyKey(values)).toEqual({ key });
  });

  it.each([
    ["no value", [""]],
    ["an empty sf-string", ['""']],
    ["256 characters", ["k".repeat(256)]],
    ["a header sent twice", ["a", "b"]],
    ["a non-ASCII character", ["clé"]],
    ["a control character", ["a\u0001b"]],
    ["an unterminated sf-string", ['"abc']],
    ["a bad escape in an sf-string", ['"a\\nb"']],
  ])("refuses %s", (_what, values) => {
    expect(parseIdempotencyKey(values)).toEqual({ refusal: expect.stringContaining("Idempotency-Key") });
  });
});

describe("the fingerprint of a request", () => {
  const DOCUMENT = "mutation M($t: TaskInput!) { createTask(input: {task: $t}) { clientMutationId } }";

  it("does not depend on the order of keys in the variables", () => {
    expect(canonicalJson({ b: [1, { d: 2, c: 3 }], a: null })).toBe('{"a":null,"b":[1,{"c":3,"d":2}]}');
    expect(fingerprintOf(DOCUMENT, "M", { t: { title: "x", priority: "HIGH" } })).toBe(
      fingerprintOf(DOCUMENT, "M", { t: { priority: "HIGH", title: "x" } }),
    );
  });

  it("treats absent, null and empty variables alike", () => {
    expect(fingerprintOf(DOCUMENT, null, undefined)).toBe(fingerprintOf(DOCUMENT, undefined, {}));
    expect(fingerprintOf(DOCUMENT, null, null)).toBe(fingerprintOf(DOCUMENT, null, {}));
  });

  it("changes with the document, the operation name or any variable", () => {
    const base = fingerprintOf(DOCUMENT, "M", { t: { title: "x" } });
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprintOf(`${DOCUMENT} `, "M", { t: { title: "x" } })).not.toBe(base);
    expect(fingerprintOf(DOCUMENT, "N", { t: { title: "x" } })).not.toBe(base);
    expect(fingerprintOf(DOCUMENT, "M", { t: { title: "y" } })).not.toBe(base);
    expect(fingerprintOf(DOCUMENT, "M", { t: { title: "x", extra: null } })).not.toBe(base);
  });
});
