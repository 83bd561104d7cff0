# Every secret a service needs, as a SOPS file + key; never a value.
#
# Secret "<service>/<key>" lives in <settings.secrets.dir>/<service>.yaml under
# <key>; sops-nix materialises it at <runtimeDir>/<service>/<key> on each host
# listed in `hosts`. Kinds:
# - db_password: password of the service's PostgreSQL role (the service's host
#   and the database server's host decrypt it);
# - oidc_client_secret: the service's OIDC client secret at its provider (the
#   service's host and the Terraform run that creates the provider decrypt it);
# - wildcard_cert/wildcard_key of the reverse proxy, secret_key of the auth
#   provider, and settings.secrets.extra (service-specific: admin passwords, ...).
{ manifest, settings ? { } }:
let
  u = import ./util.nix;
  allSettings = import ./settings.nix settings;
  cfg = allSettings.secrets;
  builtinExtra = {
    ${allSettings.caddy.service} = {
      wildcard_cert = "internal-CA wildcard certificate (PEM chain; public, kept with its key)";
      wildcard_key = "private key of the internal-CA wildcard certificate";
    };
    ${allSettings.caddy.authProvider} = {
      secret_key = "the identity provider's secret key (AUTHENTIK_SECRET_KEY)";
    };
  };
  extraOf = name: (builtinExtra.${name} or { }) // (cfg.extra.${name} or { });
  svcs = import ./services.nix { inherit manifest; };

  dbServers = builtins.attrNames (u.filterAttrs
    (_: s: s.interface.db != null && s.interface.db.mode == "standalone") svcs.enabled);

  mk = service: key: description: hosts: terraform: {
    inherit service key description terraform;
    name = "${service}/${key}";
    sopsFile = "${cfg.dir}/${service}.yaml";
    path = "${cfg.runtimeDir}/${service}/${key}";
    hosts = u.unique hosts;
  };

  secretsOf = name: s:
    let
      db = s.interface.db;
      auth = s.interface.auth;
    in
    u.optional (db != null && db.mode != "standalone")
      (mk name "db_password" "PostgreSQL password of role ${db.owner}" ([ name ] ++ dbServers) false)
    ++ u.optional (auth != null && (auth.type or null) == "oidc")
      (mk name "oidc_client_secret" "OIDC client secret of ${name} at ${auth.provider or "?"}" [ name ] true)
    ++ map (key: mk name key (extraOf name).${key} [ name ] false)
      (builtins.attrNames (extraOf name));

  byService = builtins.mapAttrs secretsOf svcs.enabled;
  list = builtins.concatLists (builtins.attrValues byService);
  all = builtins.listToAttrs (map (s: { inherit (s) name; value = s; }) list);
in
{
  inherit all byService;

  # What each host must be able to decrypt (sops.secrets of that host).
  byHost = builtins.mapAttrs
    (host: _: u.filterAttrs (_: s: builtins.elem host s.hosts) all)
    svcs.enabled;

  # One SOPS file per service that has secrets: its keys, and the hosts (plus
  # Terraform) whose keys must be recipients in .sops.yaml.
  files = builtins.listToAttrs (map
    (service:
      let ss = byService.${service}; in {
        name = "${cfg.dir}/${service}.yaml";
        value = {
          inherit service;
          keys = map (s: s.key) ss;
          hosts = u.sortedUnique (builtins.concatMap (s: s.hosts) ss);
          terraform = builtins.any (s: s.terraform) ss;
        };
      })
    (builtins.filter (n: byService.${n} != [ ]) (builtins.attrNames byService)));
}
