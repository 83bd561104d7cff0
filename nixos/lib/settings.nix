# Defaults of every nixos/lib knob, one section per generator. A caller
# overrides single keys: import ./lib { inherit manifest; settings.caddy.certFile = ...; }
overrides:
let
  defaults = {
    caddy = {
      # The manifest service that runs Caddy (its host opens 80/443; a site
      # whose upstream is this host itself is not generated: it would loop).
      service = "caddy";
      # Internal-CA wildcard certificate and key used by every TLS site.
      certFile = "/var/lib/nixmox/ca/wildcard.crt";
      keyFile = "/var/lib/nixmox/ca/wildcard.key";
      # Sites with proxy.authz = true get forward_auth to this service's
      # ip:port when their auth is OIDC via this provider or they have no auth
      # block at all (an API with no login of its own, e.g. Blocky's).
      authProvider = "authentik";
      # Port of the provider's outpost when its `ports` list is empty.
      authPort = 9000;
      # Paths never sent through forward_auth (probes, scrapers).
      publicPaths = [ "/health" "/metrics" "/alive" ];
      # Services proxied plainly: no header block, no forward_auth (the seed's
      # Guacamole special case: its websocket tunnel and own OIDC login).
      plainProxy = [ "guacamole" ];
      securityHeaders = [
        "X-Content-Type-Options nosniff"
        "X-Frame-Options SAMEORIGIN"
        "X-XSS-Protection \"1; mode=block\""
        "Referrer-Policy strict-origin-when-cross-origin"
        "-Server"
      ];
      # Strict-Transport-Security on every TLS site (browsers then never try
      # plain HTTP for that name again).
      hsts = "max-age=31536000";
    };
    firewall = {
      # A proxied service's upstream port is reachable only from the reverse
      # proxy and from these direct clients, by service name (names not in
      # the manifest are ignored): the connections the modules make around
      # Caddy. Grafana reads Prometheus and Loki, Prometheus pushes alerts to
      # Alertmanager. Add log shippers to loki here.
      directClients = {
        prometheus = [ "grafana" ];
        loki = [ "grafana" ];
        alertmanager = [ "prometheus" ];
      };
    };
    postgresql = {
      # Method in pg_hba.conf for each client host of a shared database.
      authMethod = "scram-sha-256";
    };
    secrets = {
      # SOPS files live under <dir> (relative to nixos/): <service>.yaml for
      # what only that service's host decrypts, db/<service>.yaml for its
      # database password (its host and the database server), admin/<service>.yaml
      # for what no host reads (see lib/secrets.nix).
      dir = "secrets";
      # Where sops-nix materialises secret <name> on the host.
      runtimeDir = "/run/secrets";
      # OIDC clients whose host never reads the client secret: Guacamole's
      # OpenID extension is a public client (implicit flow), Wiki.js takes the
      # secret in its admin UI. Their secret goes to the admins' file only
      # (<dir>/admin/<service>.yaml), for Terraform and the admin.
      oidcSecretNotOnHost = [ "guacamole" "wikijs" ];
      # Secrets a service needs beyond its database password and OIDC client
      # secret, by service name (only used for services in the manifest).
      # Also: the reverse proxy (caddy.service) gets wildcard_cert and
      # wildcard_key, the auth provider (caddy.authProvider) secret_key.
      extra = {
        nextcloud = { admin_password = "password of the initial Nextcloud admin"; };
        grafana = { secret_key = "Grafana security.secret_key"; };
        miniflux = { admin_password = "password of the initial Miniflux admin"; };
      };
    };
    terraform = {
      bridge = "vmbr0";
      interface = "eth0";
      # Container size unless interface.terraform.variables says otherwise
      # (cores, memory in MiB, disk_size in GiB).
      cores = 1;
      memory = 1024;
      disk_size = 8;
      # Tags every container gets (Proxmox shows them in its UI).
      tags = [ "nixmox" ];
    };
  };
  unknown = builtins.filter (s: !(defaults ? ${s})) (builtins.attrNames overrides);
in
if unknown != [ ] then
  throw "nixmox: unknown settings section(s): ${builtins.concatStringsSep ", " unknown} (known: ${builtins.concatStringsSep ", " (builtins.attrNames defaults)})"
else
  builtins.mapAttrs (section: d: d // (overrides.${section} or { })) defaults
