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
      # Sites of services with auth.type = "oidc", auth.provider = this and
      # proxy.authz = true get forward_auth to this service's ip:port.
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
    };
    postgresql = {
      # Method in pg_hba.conf for each client host of a shared database.
      authMethod = "scram-sha-256";
    };
    secrets = {
      # SOPS files live at <dir>/<service>.yaml (relative to nixos/).
      dir = "secrets";
      # Where sops-nix materialises secret <name> on the host.
      runtimeDir = "/run/secrets";
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
    };
  };
  unknown = builtins.filter (s: !(defaults ? ${s})) (builtins.attrNames overrides);
in
if unknown != [ ] then
  throw "nixmox: unknown settings section(s): ${builtins.concatStringsSep ", " unknown} (known: ${builtins.concatStringsSep ", " (builtins.attrNames defaults)})"
else
  builtins.mapAttrs (section: d: d // (overrides.${section} or { })) defaults
