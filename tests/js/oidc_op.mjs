// A real OpenID Provider for the sign-in tests (panva's oidc-provider, OpenID Certified), set up
// the way HelseID's security profile asks: code flow only, pushed authorization requests and
// PKCE S256 required, private_key_jwt client authentication with aud = issuer and exp <= 60 s.
// Client "samkons-dpop" must use DPoP (RFC 9449, with nonces). Environment: OP_PORT, OP_REDIRECT_URI, OP_CLIENT_JWKS (the client's public JWKS as JSON).
// Prints "READY" when listening; errors the provider keeps to itself go out as "OPERR" lines.
// Accounts: any login name; "stranger" has an HPR number nobody linked, "nohpr" has none.
import crypto from "node:crypto";
import http from "node:http";
import Provider, { errors } from "oidc-provider";

const port = Number(process.env.OP_PORT);
const issuer = `http://127.0.0.1:${port}`;
const HPR = { alice: "1234567", bob: "7654321", stranger: "9999999" };
const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingJwk = { ...privateKey.export({ format: "jwk" }), kid: "op-1", use: "sig", alg: "RS256" };

const provider = new Provider(issuer, {
  clients: [{
    client_id: "samkons-test",
    application_type: "web",
    response_types: ["code"],
    grant_types: ["authorization_code"],
    redirect_uris: [process.env.OP_REDIRECT_URI],
    token_endpoint_auth_method: "private_key_jwt",
    token_endpoint_auth_signing_alg: "RS256",
    jwks: JSON.parse(process.env.OP_CLIENT_JWKS),
  }, {
    // The same registration, but its tokens must be DPoP-bound.
    client_id: "samkons-dpop",
    application_type: "web",
    response_types: ["code"],
    grant_types: ["authorization_code"],
    redirect_uris: [process.env.OP_REDIRECT_URI],
    token_endpoint_auth_method: "private_key_jwt",
    token_endpoint_auth_signing_alg: "RS256",
    jwks: JSON.parse(process.env.OP_CLIENT_JWKS),
    dpop_bound_access_tokens: true,
  }],
  responseTypes: ["code"],
  clientAuthMethods: ["private_key_jwt"],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
    // DPoP with server nonces, the stricter case.
    dPoP: { enabled: true, nonceSecret: crypto.randomBytes(32), requireNonce: () => true },
  },
  scopes: ["openid", "profile", "helseid://scopes/identity/hpr_number"],
  claims: {
    openid: ["sub"],
    profile: ["name"],
    "helseid://scopes/identity/hpr_number": ["helseid://claims/hpr/hpr_number"],
  },
  conformIdTokenClaims: false,
  ttl: { PushedAuthorizationRequest: 60 },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(ctx.oidc.params.scope);
    await grant.save();
    return grant;
  },
  async assertJwtClientAuthClaimsAndHeader(ctx, claims) {
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (aud.length !== 1 || aud[0] !== issuer) {
      throw new errors.InvalidClientAuth("the assertion's aud must be the issuer");
    }
    if (!claims.exp || claims.exp > Math.floor(Date.now() / 1000) + 60) {
      throw new errors.InvalidClientAuth("the assertion must expire within 60 s");
    }
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        const claims = { sub: id, name: `Test ${id}` };
        if (HPR[id]) claims["helseid://claims/hpr/hpr_number"] = HPR[id];
        return claims;
      },
    };
  },
  jwks: { keys: [signingJwk] },
  cookies: { keys: [crypto.randomBytes(16).toString("hex")] },
  renderError(ctx, out) { ctx.type = "json"; ctx.body = out; },
});

for (const event of ["grant.error", "pushed_authorization_request.error", "authorization.error",
  "server_error", "userinfo.error"]) {
  provider.on(event, (_ctx, err) => console.log(`OPERR ${event} ${err.message} ${err.error_description || ""}`));
}

const form = (uid) => `<!doctype html><html><body><form method="post" action="/interaction/${uid}">
<label>Login <input name="login" id="login"></label>
<label>Password <input name="password" id="password" type="password"></label>
<button type="submit" id="submit">Sign in</button></form></body></html>`;

const callback = provider.callback();
http.createServer(async (req, res) => {
  const match = req.url.match(/^\/interaction\/([^/?]+)/);
  if (!match) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "text/html" });
      return res.end(form(details.uid));
    }
    let body = "";
    for await (const chunk of req) body += chunk;
    const login = new URLSearchParams(body).get("login") || "";
    const result = login === "" || login === "unknown"
      ? { error: "access_denied", error_description: "no such user" }
      : { login: { accountId: login } };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  } catch (err) {
    console.log(`OPERR interaction ${err.message}`);
    res.writeHead(400); res.end(String(err.message));
  }
}).listen(port, "127.0.0.1", () => console.log("READY"));
