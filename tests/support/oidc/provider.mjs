// A local OpenID provider for Tether's login tests: panva's oidc-provider with its
// development login page (any login name, any password), on a free port of 127.0.0.1.
//
// The person sees two pages: the login (any name, any password) and the consent to this
// client (a "native" client is always asked).
//
// Started by tests/support/oidc_provider.py. It prints one line, `issuer http://...`,
// once it answers; the issuer names `localhost`, so that to a browser the provider is
// another site than a hub on 127.0.0.1 (as a real provider is).
//
// Configuration comes from the environment:
//   OIDC_CLIENTS  JSON list of {client_id, client_secret}; each may redirect to
//                 http://127.0.0.1:<any port>/api/login/oidc/callback (a loopback
//                 redirect of a "native" client may name any port, RFC 8252 §7.3).
//
// Accounts: the login name is the account; ACCOUNTS below gives some of them a
// preferred_username and groups.
//
// One test hook, for the hub's ID-token checks: `POST /test/tamper` with a JSON body
// {"id_token": "audience" | "signature" | "nonce"} makes the *next* token response carry
// an ID token changed that way (re-signed with the provider's own key, except for
// "signature", which is signed by a key nobody published).

import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const ACCOUNTS = {
  alice: { preferred_username: 'Alice', name: 'Alice Example', groups: ['tether-admins', 'finance'] },
  bob: { preferred_username: 'bob', name: 'Bob Example', groups: ['ops'] },
  nameless: { name: 'No Username', groups: [] },
};

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, jwk: { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' } };
}

const b64 = (data) => Buffer.from(data).toString('base64url');

function resign(idToken, change, key) {
  const [header, payload] = idToken.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  const changed = b64(JSON.stringify(change(claims)));
  const input = `${header}.${changed}`;
  return `${input}.${b64(sign('sha256', Buffer.from(input), key))}`;
}

const TAMPERING = {
  audience: (token, keys) => resign(token, (c) => ({ ...c, aud: 'another-app', azp: undefined }), keys.real),
  nonce: (token, keys) => resign(token, (c) => ({ ...c, nonce: 'not-the-nonce' }), keys.real),
  signature: (token, keys) => resign(token, (c) => c, keys.stranger),
};

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://localhost:${server.address().port}`;

const real = signingKey();
const keys = { real: real.privateKey, stranger: signingKey().privateKey };
const clients = JSON.parse(process.env.OIDC_CLIENTS ?? '[]').map((c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret,
  application_type: 'native',
  redirect_uris: ['http://127.0.0.1/api/login/oidc/callback'],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
}));

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [real.jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: { openid: ['sub'], profile: ['preferred_username', 'name'], groups: ['groups'] },
  scopes: ['openid', 'profile', 'groups'],
  // The ID token carries the scopes' claims, as most providers' group claims do.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const known = ACCOUNTS[id] ?? { preferred_username: id, groups: [] };
    return { accountId: id, claims: async () => ({ sub: id, ...known }) };
  },
  ttl: { Session: 600, Interaction: 600, Grant: 600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600 },
});

let tamper = null;
provider.use(async (ctx, next) => {
  if (ctx.path === '/test/tamper' && ctx.method === 'POST') {
    const chunks = [];
    for await (const chunk of ctx.req) chunks.push(chunk);
    const wanted = JSON.parse(Buffer.concat(chunks).toString() || '{}').id_token;
    if (!(wanted in TAMPERING)) ctx.throw(400, `unknown tampering ${wanted}`);
    tamper = wanted;
    ctx.status = 204;
    return;
  }
  await next();
  if (ctx.path === '/token' && tamper !== null && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: TAMPERING[tamper](ctx.body.id_token, keys) };
    tamper = null;
  }
});

server.on('request', provider.callback());
process.stdout.write(`issuer ${issuer}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
