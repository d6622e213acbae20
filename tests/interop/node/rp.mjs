// An e-service built on panva/openid-client (OpenID Certified), with no gateway-specific code.
// Two steps, so the Python test can play the browser and the e-ID provider in between:
//   node rp.mjs start  <issuer> <client_id> <client_secret> <redirect_uri> <scope> <state_file>  -> prints the authorization URL
//   node rp.mjs finish <state_file> <callback_url>                                                -> prints {id_token_claims, userinfo}
// allowInsecureRequests is only because the test gateway listens on http://127.0.0.1.
import { readFileSync, writeFileSync } from "node:fs";
import * as client from "openid-client";

async function configuration(issuer, clientId, clientSecret) {
  return client.discovery(new URL(issuer), clientId, undefined, client.ClientSecretBasic(clientSecret), {
    execute: [client.allowInsecureRequests],
  });
}

async function start([issuer, clientId, clientSecret, redirectUri, scope, stateFile]) {
  const config = await configuration(issuer, clientId, clientSecret);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  writeFileSync(stateFile, JSON.stringify({ issuer, clientId, clientSecret, verifier, state, nonce }));
  process.stdout.write(url.href);
}

async function finish([stateFile, callbackUrl]) {
  const saved = JSON.parse(readFileSync(stateFile, "utf8"));
  const config = await configuration(saved.issuer, saved.clientId, saved.clientSecret);
  const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: saved.verifier,
    expectedState: saved.state,
    expectedNonce: saved.nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  process.stdout.write(JSON.stringify({ id_token_claims: claims, userinfo }));
}

const [command, ...args] = process.argv.slice(2);
const steps = { start, finish };
if (!steps[command]) {
  console.error("usage: rp.mjs start|finish ...");
  process.exit(2);
}
steps[command](args).catch((error) => {
  console.error(`${error.name}: ${error.message}${error.code ? ` (${error.code})` : ""}`);
  process.exit(1);
});
