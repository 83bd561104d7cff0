# Every secret a service needs, as a SOPS file + key; never a value.
#
# Secret "<service>/<key>" is materialised by sops-nix at
# <runtimeDir>/<service>/<key> on each host listed in its `hosts`. Secrets are
# split into files by who must decrypt them, so that a host is a recipient of
# exactly the files whose every key it uses:
# - <dir>/<service>.yaml: what only the service's own host reads (admin
#   passwords, secret keys, the OIDC client secret of an application that
#   speaks OIDC itself, the reverse proxy's wildcard certificate and key);
# - <dir>/db/<service>.yaml: db_password, the password of the service's
#   PostgreSQL role (its host and the database server's host);
# - <dir>/admin/<service>.yaml: what no host reads, only the admins and the
#   Terraform run (the OIDC client secret of settings.secrets.oidcSecretNotOnHost).
# An application behind forward_auth has no client secret at all: Authentik's
# proxy provider holds it. The admins are recipients of every file (README).
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
  caddy = import ./caddy.nix { inherit manifest settings; };

  dbServers = builtins.attrNames (u.filterAttrs
    (_: s: s.interface.db != null && s.interface.db.mode == "standalone") svcs.enabled);

  mk = { service, key, description, file, hosts, terraform ? false }: {
    inherit service key description terraform;
    name = "${service}/${key}";
    sopsFile = "${cfg.dir}/${file}";
    path = "${cfg.runtimeDir}/${service}/${key}";
    hosts = u.unique hosts;
  };

  # Whether the application itself holds an OIDC client secret (it speaks
  # OIDC; not behind forward_auth).
  oidcSecret = name: s:
    let auth = s.interface.auth;
    in auth != null && (auth.type or null) == "oidc"
      && !((caddy.sites.${name}.forward_auth or null) != null);

  secretsOf = name: s:
    let
      db = s.interface.db;
      auth = s.interface.auth;
      onHost = !(builtins.elem name cfg.oidcSecretNotOnHost);
    in
    u.optional (db != null && db.mode != "standalone")
      (mk {
        service = name;
        key = "db_password";
        description = "PostgreSQL password of role ${db.owner}";
        file = "db/${name}.yaml";
        hosts = [ name ] ++ dbServers;
      })
    ++ u.optional (oidcSecret name s)
      (mk {
        service = name;
        key = "oidc_client_secret";
        description = "OIDC client secret of ${name} at ${auth.provider or "?"}";
        file = if onHost then "${name}.yaml" else "admin/${name}.yaml";
        hosts = u.optional onHost name;
        terraform = true;
      })
    ++ map
      (key: mk {
        service = name;
        inherit key;
        description = (extraOf name).${key};
        file = "${name}.yaml";
        hosts = [ name ];
      })
      (builtins.attrNames (extraOf name));

  byService = builtins.mapAttrs secretsOf svcs.enabled;
  list = builtins.concatLists (builtins.attrValues byService);
  all = builtins.listToAttrs (map (s: { inherit (s) name; value = s; }) list);
  byFile = builtins.groupBy (s: s.sopsFile) list;
in
{
  inherit all byService;

  # What each host must be able to decrypt (sops.secrets of that host).
  byHost = builtins.mapAttrs
    (host: _: u.filterAttrs (_: s: builtins.elem host s.hosts) all)
    svcs.enabled;

  # One SOPS file per set of readers: its keys (with what each holds), the
  # hosts whose age keys must be its recipients (plus the admins'), and
  # whether the Terraform run reads it.
  files = builtins.mapAttrs
    (_: ss: {
      service = (builtins.head ss).service;
      keys = map (s: s.key) ss;
      descriptions = builtins.listToAttrs (map (s: { name = s.key; value = s.description; }) ss);
      hosts = u.sortedUnique (builtins.concatMap (s: s.hosts) ss);
      terraform = builtins.any (s: s.terraform) ss;
    })
    byFile;
}
