// A real OpenID provider for Zava's OAuth tests: oidc-provider (the certified Node.js
// implementation), listening on 127.0.0.1 only.
//
//   npm ci && node provider.mjs          # http://127.0.0.1:9123, its development key
//   OIDC_PORT=9123 OIDC_JWKS='{"keys":[...private JWKs...]}' node provider.mjs
//
// - JWT access tokens for any resource indicator (RFC 8707) on 127.0.0.1, with the scope
//   zava:read; the audience is the resource asked for.
// - Client credentials: svc-seattle, svc-eastside, svc-hq, svc-unmapped (secret "secret"),
//   svc-short whose tokens live 2 seconds, and svc-opaque whose tokens are opaque (for
//   RFC 7662 introspection, which Zava calls as the client zava-rs). Their tokens' sub is
//   the client id.
// - Authorization code + PKCE: the public client zava-desktop, and zava-desktop-opaque
//   whose access tokens are opaque (redirect
//   http://127.0.0.1:33418/callback); users alice (Seattle), erin (Eastside regional
//   manager), hq (head office), mallory (mapped to nobody). Any password is accepted
//   (oidc-provider's development interactions): the tests drive the forms headlessly.
// Prints "ready <issuer>" on stdout when it listens.
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT || 9123);
const issuer = `http://127.0.0.1:${port}`;
// Without OIDC_JWKS, oidc-provider signs with its built-in development key.
const jwks = process.env.OIDC_JWKS ? JSON.parse(process.env.OIDC_JWKS) : undefined;

const USERS = {
  alice: { email: 'alice@zava.test' },
  erin: { email: 'erin@zava.test' },
  hq: { email: 'hq@zava.test' },
  mallory: { email: 'mallory@zava.test' },
};

const OPAQUE = new Set(['svc-opaque', 'zava-desktop-opaque']);

const service = (id) => ({
  client_id: id,
  client_secret: 'secret',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
});

const configuration = {
  ...(jwks ? { jwks } : {}),
  cookies: { keys: ['zava-test-only'] },
  clients: [
    service('svc-seattle'), service('svc-eastside'), service('svc-hq'),
    service('svc-unmapped'), service('svc-short'), service('svc-opaque'),
    service('zava-rs'),
    ...['zava-desktop', 'zava-desktop-opaque'].map((id) => ({
      client_id: id,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:33418/callback'],
    })),
  ],
  findAccount: async (ctx, id) => (USERS[id] ? {
    accountId: id,
    claims: async () => ({ sub: id, email: USERS[id].email }),
  } : undefined),
  claims: { openid: ['sub'], email: ['email'] },
  scopes: ['openid', 'offline_access', 'email', 'zava:read'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    registration: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator, client) => {
        const url = new URL(resourceIndicator);
        if (url.hostname !== '127.0.0.1') throw new Error('resources on 127.0.0.1 only');
        return {
          scope: 'zava:read',
          audience: resourceIndicator,
          accessTokenTTL: client.clientId === 'svc-short' ? 2 : 600,
          accessTokenFormat: OPAQUE.has(client.clientId) ? 'opaque' : 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  ttl: { AccessToken: 600, ClientCredentials: 600, Session: 3600, Grant: 3600 },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, error) => console.error('server_error', error));
const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
