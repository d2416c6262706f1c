import { generateKeyPairSync } from "node:crypto";

/**
 * The GitHub App identity the e2e tests use: the app process gets `APP_ID` and
 * `PRIVATE_KEY`, and the GitHub stand-in verifies the app's JWTs with the public key.
 * The key pair is generated once per test process (module scope).
 */
export const TEST_APP_ID = 12345;
/** At least 32 characters: the app refuses to start with a shorter WEBHOOK_SECRET. */
export const TEST_WEBHOOK_SECRET = "yaci-test-webhook-secret-8d3f2c61a9b0";

const pair = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
});

/** PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), the format GitHub hands out for app keys. */
export const TEST_PRIVATE_KEY: string = pair.privateKey;
export const TEST_PUBLIC_KEY: string = pair.publicKey;
