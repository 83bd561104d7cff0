# Caddy: one site per proxied, enabled service, and the whole Caddyfile.
#
# A site gets, in this order: TLS with the internal-CA wildcard certificate,
# every client-sent X-Authentik-* request header removed (only the outpost may
# set them), the seed's security headers plus HSTS, and either
# - a plain reverse_proxy (settings.caddy.plainProxy, the seed's Guacamole case),
# - forward_auth to the Authentik outpost (proxy.authz = true, and auth is OIDC
#   via settings.caddy.authProvider or there is no auth block) for every path
#   except settings.caddy.publicPaths, with /outpost.goauthentik.io/* sent to
#   the outpost, then reverse_proxy to the upstream,
# - or a bare reverse_proxy.
# forward_auth trusts no client's X-Forwarded-* headers (no trusted_proxies):
# Caddy sets X-Forwarded-Host/-Proto/-For from the request itself, so a client
# cannot name another application to the outpost.
# A proxy.path other than "/" serves the service under that prefix with
# handle_path (the prefix is stripped before proxying).
{ manifest, settings ? { } }:
let
  u = import ./util.nix;
  cfg = (import ./settings.nix settings).caddy;
  svcs = import ./services.nix { inherit manifest; };

  withProxy = u.filterAttrs (_: s: s.interface.proxy != null) svcs.enabled;

  proxyHost = svcs.all.${cfg.service} or null;

  # Why a service with a proxy block gets no site (null: it gets one).
  skipReason = s:
    let p = s.interface.proxy; db = s.interface.db;
    in
    if proxyHost != null && p.upstream_host == proxyHost.ip then
      "upstream ${p.upstream} is the Caddy host itself (a site would proxy to itself)"
    else if db != null && db.mode == "standalone" && p.upstream_port == db.port then
      "upstream ${p.upstream} is the database port (PostgreSQL wire protocol, not HTTP)"
    else null;

  skipped = u.filterAttrs (_: r: r != null) (builtins.mapAttrs (_: skipReason) withProxy);
  proxied = u.filterAttrs (n: _: !(skipped ? ${n})) withProxy;

  check = what: re: v:
    if builtins.isString v && builtins.match re v != null then v
    else throw "nixmox: ${what}: ${builtins.toJSON v} is not allowed in a Caddyfile (must match ${re})";

  domainRe = "[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*";
  pathRe = "/[A-Za-z0-9._~/-]*";
  fileRe = "/[A-Za-z0-9._~/+-]+";
  hstsRe = "max-age=[0-9]+(; ?includeSubDomains)?(; ?preload)?";

  provider =
    let p = svcs.get cfg.authProvider;
    in "${p.ip}:${toString (if p.ports != [ ] then builtins.head p.ports else cfg.authPort)}";

  usesForwardAuth = s:
    let a = s.interface.auth;
    in !(builtins.elem s.name cfg.plainProxy)
      && s.interface.proxy.authz
      && (a == null || ((a.type or null) == "oidc" && (a.provider or null) == cfg.authProvider));

  block = header: lines: "${header} {\n${u.indent "\t" (builtins.concatStringsSep "\n" lines)}\n}";

  headerBlock = block "header" cfg.securityHeaders;

  forwardAuthLines = [
    "@protected not path ${builtins.concatStringsSep " " (map (check "settings.caddy.publicPaths" pathRe) cfg.publicPaths)}"
    (block "forward_auth @protected ${provider}" [
      "uri /outpost.goauthentik.io/auth/caddy"
      "copy_headers X-Authentik-Username X-Authentik-Groups X-Authentik-Email X-Authentik-Name X-Authentik-Uid X-Authentik-Jwt X-Authentik-Meta-Jwks X-Authentik-Meta-Outpost X-Authentik-Meta-Provider X-Authentik-Meta-App X-Authentik-Meta-Version"
    ])
  ];

  mkSite = name: s:
    let
      p = s.interface.proxy;
      where = "${s.group}.${name}.interface.proxy";
      domain = check "${where}.domain" domainRe p.domain;
      path =
        let raw = check "${where}.path" pathRe p.path;
            m = builtins.match "(.*[^/])/+" raw;
        in if m == null then raw else builtins.head m;
      upstream = "${check "${where}.upstream" domainRe p.upstream_host}:${toString p.upstream_port}";
      plain = builtins.elem name cfg.plainProxy;
      fwd = usesForwardAuth s;
      app = (if fwd then forwardAuthLines else [ ]) ++ [ "reverse_proxy ${upstream}" ];
      body =
        u.optional p.tls "tls ${check "settings.caddy.certFile" fileRe cfg.certFile} ${check "settings.caddy.keyFile" fileRe cfg.keyFile}"
        ++ [ "request_header -X-Authentik-*" ]
        ++ u.optional (!plain) headerBlock
        ++ u.optional (p.tls && cfg.hsts != null) "header Strict-Transport-Security ${builtins.toJSON (check "settings.caddy.hsts" hstsRe cfg.hsts)}"
        ++ u.optional fwd (block "handle /outpost.goauthentik.io/*" [ "reverse_proxy ${provider}" ])
        ++ (if path == "/" then
              (if fwd then [ (block "handle" app) ] else app)
            else [
              "redir ${path} ${path}/ 308"
              (block "handle_path ${path}/*" app)
              (block "handle" [ "respond \"Not Found\" 404" ])
            ]);
      address = (if p.tls then "" else "http://") + domain;
    in
    {
      inherit domain path upstream plain;
      tls = p.tls;
      forward_auth = if fwd then provider else null;
      text = "# ${s.group}.${name}\n" + block address body + "\n";
    };

  sites = builtins.mapAttrs mkSite proxied;

  # Two sites for one address would make Caddy refuse the whole file.
  byDomain = builtins.groupBy (n: sites.${n}.domain) (builtins.attrNames sites);
  dupDomains = u.filterAttrs (_: ns: builtins.length ns > 1) byDomain;

  caddyfile =
    if dupDomains != { } then
      throw "nixmox: several services proxy the same domain: ${builtins.concatStringsSep "; " (map (d: "${d} (${builtins.concatStringsSep ", " dupDomains.${d}})") (builtins.attrNames dupDomains))}"
    else
      "# Generated by nixos/lib/caddy.nix from the NixMox manifest. Do not edit.\n"
      + u.concatMapStrings (n: "\n" + sites.${n}.text) (builtins.attrNames sites);
in
{
  inherit sites skipped caddyfile;
  # Services with a site, and the address forward_auth goes to.
  proxiedNames = builtins.attrNames sites;
  authAddress = if builtins.any usesForwardAuth (builtins.attrValues proxied) then provider else null;
}
