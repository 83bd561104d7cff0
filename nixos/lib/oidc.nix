# OIDC clients: every enabled service with auth.type = "oidc", with its
# provider's endpoints (Authentik layout: one application per service, its
# slug the service name) and where its client secret is. `forward_auth`
# clients are Authentik proxy providers: Caddy's outpost logs in for them and
# they have no client secret of their own (client_secret = null).
{ manifest, settings ? { } }:
let
  u = import ./util.nix;
  svcs = import ./services.nix { inherit manifest; };
  secrets = import ./secrets.nix { inherit manifest settings; };

  isOidc = s: s.interface.auth != null && (s.interface.auth.type or null) == "oidc";

  mkClient = name: s:
    let
      a = s.interface.auth;
      providerName = a.provider or (throw "nixmox: ${s.group}.${name}.interface.auth.provider is missing");
      p = svcs.get providerName;
      base = "https://${if p.interface.proxy != null then p.interface.proxy.domain else p.hostname}";
      tf = s.interface.terraform.variables;
      secret = secrets.all."${name}/oidc_client_secret" or null;
    in
    {
      provider = providerName;
      slug = name;
      client_id = tf.oidc_client_id or "${name}-oidc";
      redirect_uris = a.oidc.redirect_uris or [ ];
      scopes = a.oidc.scopes or (tf.oidc_scopes or [ "openid" ]);
      username_claim = a.oidc.username_claim or "preferred_username";
      groups_claim = a.oidc.groups_claim or "groups";
      issuer = "${base}/application/o/${name}/";
      discovery_url = "${base}/application/o/${name}/.well-known/openid-configuration";
      authorize_url = "${base}/application/o/authorize/";
      token_url = "${base}/application/o/token/";
      userinfo_url = "${base}/application/o/userinfo/";
      end_session_url = "${base}/application/o/${name}/end-session/";
      forward_auth = secret == null;
      client_secret = if secret == null then null else { inherit (secret) name sopsFile key path; };
    };
in
{
  clients = builtins.mapAttrs mkClient (u.filterAttrs (_: isOidc) svcs.enabled);
}
