# A second manifest, deliberately different from nixos/service-manifest.nix
# (network, domain, names, ports, service set), to show that nixos/lib
# derives everything from the manifest. Used by tests/nixos_lib.rs.
#
# Differences exercised: the database server is called "db" and listens on
# 5433; owners that are not the database name; an extension whose name needs
# quoting (uuid-ossp); a proxied path
# other than "/"; a site without TLS; a service without a proxy; a disabled
# service (with a database) that must appear nowhere; no Guacamole; the DNS
# server is not a service; Authentik listens on two ports.
let
  health = unit: liveness: {
    startup = "systemctl is-active --quiet ${unit}";
    inherit liveness;
    interval = 15;
    timeout = 5;
    retries = 2;
  };
  oidc = name: {
    type = "oidc";
    provider = "authentik";
    oidc = {
      redirect_uris = [ "https://${name}.lab.example.org/oauth/callback" ];
      scopes = [ "openid" "email" ];
      username_claim = "email";
      groups_claim = "groups";
    };
  };
in
{
  network = {
    dns_server = "10.42.0.53";
    gateway = "10.42.0.1";
    network_cidr = "10.42.0.0/16";
    domain = "lab.example.org";
    vlan_tag = 42;
  };

  core_services = {
    db = {
      enable = true;
      ip = "10.42.1.10";
      hostname = "db.lab.example.org";
      ports = [ 9187 ];
      interface = {
        terraform.modules = [ "./terraform/db" ];
        db = { name = "postgres"; port = 5433; mode = "standalone"; };
        health = health "postgresql" "systemctl is-active --quiet postgresql";
        logs.unit = "postgresql";
      };
    };

    caddy = {
      enable = true;
      ip = "10.42.1.2";
      hostname = "edge.lab.example.org";
      ports = [ 2019 ];
      interface = {
        terraform.modules = [ "./terraform/edge" ];
        health = health "caddy" "curl -f -s http://localhost:2019/config/";
      };
    };

    authentik = {
      enable = true;
      ip = "10.42.1.20";
      hostname = "sso.lab.example.org";
      depends_on = [ "db" ];
      ports = [ 9000 9443 ];
      interface = {
        terraform = {
          modules = [ "./terraform/authentik" ];
          variables = { domain = "lab.example.org"; };
        };
        db = { name = "authentik"; port = 5433; mode = "shared"; };
        proxy = {
          domain = "sso.lab.example.org";
          path = "/";
          upstream = "10.42.1.20:9000";
          tls = true;
          authz = false;
        };
        health = health "authentik" "curl -f -s http://localhost:9000/-/health/live/";
      };
    };
  };

  services = {
    wiki = {
      enable = true;
      ip = "10.42.2.1";
      hostname = "wiki.lab.example.org";
      depends_on = [ "db" "caddy" "authentik" ];
      ports = [ 3000 ];
      interface = {
        terraform = {
          modules = [ "./terraform/wiki" ];
          targets = [ "authentik_provider" ];
          variables = { oidc_client_id = "wiki"; };
        };
        db = {
          name = "wiki_js";
          port = 5433;
          mode = "shared";
          owner = "wiki_owner";
          extensions = [ "pg_trgm" ];
        };
        auth = oidc "wiki";
        proxy = {
          domain = "docs.lab.example.org";
          path = "/wiki/";
          upstream = "10.42.2.1:3000";
          tls = true;
          authz = true;
        };
        health = health "wiki-js" "curl -f -s http://localhost:3000/healthz";
        logs.unit = "wiki-js";
      };
    };

    paperless = {
      enable = true;
      ip = "10.42.2.2";
      hostname = "paperless.lab.example.org";
      depends_on = [ "db" "caddy" "authentik" ];
      ports = [ 28981 ];
      interface = {
        terraform.modules = [ "./terraform/paperless" ];
        db = {
          name = "paperless";
          port = 5433;
          mode = "shared";
          owner = "paperless_ngx";
          extensions = [ "uuid-ossp" "citext" ];
        };
        auth = oidc "paperless";
        proxy = {
          domain = "paperless.lab.example.org";
          path = "/";
          upstream = "10.42.2.2:28981";
          tls = true;
          authz = true;
        };
        health = health "paperless-web" "curl -f -s http://localhost:28981/api/";
        logs.unit = "paperless-web";
      };
    };

    gitea = {
      enable = true;
      ip = "10.42.2.3";
      hostname = "git.lab.example.org";
      depends_on = [ "db" "caddy" "authentik" ];
      ports = [ 3001 2222 ];
      interface = {
        terraform.modules = [ "./terraform/gitea" ];
        db = { name = "gitea"; port = 5433; mode = "shared"; };
        auth = oidc "git";
        proxy = {
          domain = "git.lab.example.org";
          path = "/";
          upstream = "10.42.2.3:3001";
          tls = false;
          authz = false;
        };
        health = health "gitea" "curl -f -s http://localhost:3001/api/healthz";
      };
    };

    metrics = {
      enable = true;
      ip = "10.42.3.1";
      hostname = "metrics.lab.example.org";
      depends_on = [ "caddy" ];
      ports = [ 9090 ];
      interface = {
        proxy = {
          domain = "metrics.lab.example.org";
          path = "/";
          upstream = "10.42.3.1:9090";
          tls = true;
          authz = false;
        };
        health = health "prometheus" "curl -f -s http://localhost:9090/-/ready";
        logs.unit = "prometheus";
      };
    };

    backup = {
      enable = true;
      ip = "10.42.3.2";
      hostname = "backup.lab.example.org";
      depends_on = [ "db" "metrics" ];
      ports = [ 8000 ];
      interface = {
        health = health "restic-rest-server" "curl -f -s http://localhost:8000/";
        logs.unit = "restic-rest-server";
      };
    };

    legacy = {
      enable = false;
      ip = "10.42.9.9";
      hostname = "legacy.lab.example.org";
      depends_on = [ "db" "authentik" ];
      ports = [ 8088 ];
      interface = {
        db = { name = "legacy_db"; port = 5433; mode = "shared"; extensions = [ "hstore" ]; };
        auth = oidc "legacy";
        proxy = {
          domain = "legacy.lab.example.org";
          path = "/";
          upstream = "10.42.9.9:8088";
          tls = true;
          authz = true;
        };
        health = health "legacy" "curl -f -s http://localhost:8088/";
      };
    };
  };
}
