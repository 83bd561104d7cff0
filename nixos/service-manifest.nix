# NixMox service manifest: the single source of truth for the homelab.
#
# Schema as in the NixMox design notes (network, core_services, services;
# per service enable, ip, hostname, depends_on, ports and
# interface.{terraform,db,proxy,auth,health}). One optional extension is used:
# `interface.logs.unit`, the systemd unit whose journal belongs to the service.
#
# Conventions read by nixos/lib:
# - `interface.db.mode = "standalone"` marks the database server itself;
#   `mode = "shared"` is a database (and its owner role) on that server.
# - Caddy puts `forward_auth` to Authentik in front of a service when
#   `proxy.authz = true` and its auth is OIDC via authentik (or it has no auth
#   block: an API with no login of its own); `authz = false` with OIDC means
#   the application speaks OIDC itself (clients, WebDAV, ...).
# - Passwords and OIDC client secrets never live here: nixos/lib/secrets.nix
#   names the SOPS file and key for each of them.
#
# Dependency waves (`nixmox plan`):
#   1. caddy dns postgresql
#   2. authentik jellyfin
#   3. guacamole loki miniflux nextcloud prometheus vaultwarden wikijs
#   4. alertmanager grafana
#   5. homepage
{
  # Network configuration
  network = {
    dns_server = "192.168.99.13";
    gateway = "192.168.99.1";
    network_cidr = "192.168.99.0/24";
    domain = "nixmox.lan";
    vlan_tag = 99;
  };

  # Core infrastructure services
  core_services = {
    postgresql = {
      enable = true;
      ip = "192.168.99.11";
      hostname = "postgresql.nixmox.lan";
      interface = {
        terraform = {
          modules = [ "./terraform/postgresql" ];
          variables = { domain = "nixmox.lan"; network_cidr = "192.168.99.0/24"; };
        };
        db = {
          name = "postgresql";
          port = 5432;
          mode = "standalone";
        };
        proxy = {
          domain = "postgresql.nixmox.lan";
          path = "/";
          upstream = "192.168.99.11:5432";
          tls = true;
          authz = false;
        };
        health = {
          startup = "systemctl is-active --quiet postgresql";
          liveness = "systemctl is-active --quiet postgresql";
          interval = 30;
          timeout = 60;
          retries = 3;
        };
        logs.unit = "postgresql";
      };
    };

    caddy = {
      enable = true;
      ip = "192.168.99.10";
      hostname = "caddy.nixmox.lan";
      interface = {
        terraform = {
          modules = [ "./terraform/caddy" ];
          variables = { domain = "nixmox.lan"; network_cidr = "192.168.99.0/24"; };
        };
        proxy = {
          domain = "caddy.nixmox.lan";
          path = "/";
          upstream = "192.168.99.10:80";
          tls = true;
          authz = false;
        };
        health = {
          startup = "systemctl is-active --quiet caddy";
          liveness = "systemctl is-active --quiet caddy";
          interval = 30;
          timeout = 60;
          retries = 3;
        };
        logs.unit = "caddy";
      };
    };

    authentik = {
      enable = true;
      ip = "192.168.99.12";
      hostname = "authentik.nixmox.lan";
      depends_on = [ "postgresql" ];
      ports = [ 9000 ];
      interface = {
        terraform = {
          modules = [ "./terraform/authentik" ];
          variables = { domain = "nixmox.lan"; network_cidr = "192.168.99.0/24"; };
        };
        db = {
          name = "authentik";
          port = 5432;
          mode = "shared";
          owner = "authentik";
        };
        proxy = {
          domain = "authentik.nixmox.lan";
          path = "/";
          upstream = "192.168.99.12:9000";
          tls = true;
          authz = false;
        };
        health = {
          startup = "systemctl is-active --quiet authentik";
          liveness = "curl -f -s http://localhost:9000/-/health/live/";
          interval = 30;
          timeout = 10;
          retries = 3;
        };
        logs.unit = "authentik";
      };
    };

    dns = {
      enable = true;
      ip = "192.168.99.13";
      hostname = "dns.nixmox.lan";
      ports = [ 53 4000 ];
      interface = {
        terraform = {
          modules = [ "./terraform/dns" ];
          variables = { domain = "nixmox.lan"; network_cidr = "192.168.99.0/24"; };
        };
        proxy = {
          domain = "dns.nixmox.lan";
          path = "/";
          upstream = "192.168.99.13:4000";
          tls = true;
          # Blocky's HTTP API (blocking on/off, cache flush) has no login of
          # its own: forward_auth in front. No auth block and no depends_on
          # authentik: the DNS server must deploy before the identity provider.
          authz = true;
        };
        health = {
          startup = "systemctl is-active --quiet blocky";
          liveness = "curl -f -s http://localhost:4000/api/blocking/status";
          interval = 30;
          timeout = 10;
          retries = 3;
        };
        logs.unit = "blocky";
      };
    };
  };

  # Application services
  services = {
    vaultwarden = {
      enable = true;
      ip = "192.168.99.14";
      hostname = "vaultwarden.nixmox.lan";
      depends_on = [ "postgresql" "caddy" "authentik" ];
      ports = [ 8080 ];
      interface = {
        terraform = {
          modules = [ "./terraform/vaultwarden" ];
          targets = [ "authentik_app" "authentik_provider" "authentik_outpost" ];
          variables = {
            domain = "vaultwarden.nixmox.lan";
            oidc_client_id = "vaultwarden-oidc";
            oidc_scopes = [ "openid" "email" "profile" ];
          };
        };
        db = {
          name = "vaultwarden";
          port = 5432;
          mode = "shared";
          owner = "vaultwarden";
        };
        auth = {
          type = "oidc";
          provider = "authentik";
          oidc = {
            redirect_uris = [ "https://vaultwarden.nixmox.lan/oidc/callback" ];
            scopes = [ "openid" "email" "profile" ];
            username_claim = "preferred_username";
            groups_claim = "groups";
          };
        };
        proxy = {
          domain = "vaultwarden.nixmox.lan";
          path = "/";
          upstream = "192.168.99.14:8080";
          tls = true;
          # Vaultwarden logs in through OIDC itself (SSO); forward_auth would
          # break every Bitwarden app and browser extension (they cannot do an
          # interactive login in front of the API).
          authz = false;
        };
        health = {
          startup = "systemctl is-active --quiet vaultwarden";
          liveness = "curl -f -s http://localhost:8080/alive";
          interval = 30;
          timeout = 60;
          retries = 3;
        };
        logs.unit = "vaultwarden";
      };
    };

    guacamole = {
      enable = true;
      ip = "192.168.99.15";
      hostname = "guacamole.nixmox.lan";
      depends_on = [ "postgresql" "caddy" "authentik" ];
      ports = [ 8080 ];
      interface = {
        terraform = {
          modules = [ "./terraform/guacamole" ];
          targets = [ "authentik_app" "authentik_provider" ];
          variables = {
            domain = "guacamole.nixmox.lan";
            oidc_client_id = "guacamole-oidc";
            oidc_scopes = [ "openid" "email" "profile" ];
          };
        };
        db = {
          name = "guacamole_db";
          port = 5432;
          mode = "shared";
          owner = "guacamole_user";
        };
        auth = {
          type = "oidc";
          provider = "authentik";
          oidc = {
            redirect_uris = [ "https://guacamole.nixmox.lan/guacamole/" ];
            scopes = [ "openid" "email" "profile" ];
            username_claim = "preferred_username";
            groups_claim = "groups";
          };
        };
        proxy = {
          domain = "guacamole.nixmox.lan";
          path = "/";
          upstream = "192.168.99.15:8080";
          tls = true;
          # Guacamole logs in through its OpenID extension; Caddy proxies it
          # plainly (websocket tunnel, no extra headers), as the seed does.
          authz = false;
        };
        health = {
          startup = "systemctl is-active --quiet tomcat";
          liveness = "curl -f -s http://localhost:8080/guacamole/";
          interval = 30;
          timeout = 10;
          retries = 3;
        };
        logs.unit = "tomcat";
      };
    };

    nextcloud = {
      enable = true;
      ip = "192.168.99.16";
      hostname = "nextcloud.nixmox.lan";
      depends_on = [ "postgresql" "caddy" "authentik" ];
      ports = [ 80 ];
      interface = {
        terraform = {
          modules = [ "./terraform/nextcloud" ];
          targets = [ "authentik_app" "authentik_provider" ];
          variables = {
            domain = "nextcloud.nixmox.lan";
            oidc_client_id = "nextcloud-oidc";
            oidc_scopes = [ "openid" "email" "profile" ];
          };
        };
        db = {
          name = "nextcloud";
          port = 5432;
          mode = "shared";
          owner = "nextcloud";
        };
        auth = {
          type = "oidc";
          provider = "authentik";
          oidc = {
            redirect_uris = [ "https://nextcloud.nixmox.lan/apps/user_oidc/code" ];
            scopes = [ "openid" "email" "profile" ];
            username_claim = "preferred_username";
            groups_claim = "groups";
          };
        };
        proxy = {
          domain = "nextcloud.nixmox.lan";
          path = "/";
          upstream = "192.168.99.16:80";
          tls = true;
          # Nextcloud logs in through OIDC itself; forward_auth would break
          # the desktop/mobile clients and WebDAV.
          authz = false;
        };
        health = {
          startup = "systemctl is-active --quiet phpfpm-nextcloud";
          liveness = "curl -f -s http://localhost:80/status.php";
          interval = 30;
          timeout = 10;
          retries = 3;
        };
        logs.unit = "phpfpm-nextcloud";
      };
    };

    miniflux = {
      enable = true;
      ip = "192.168.99.17";
      hostname = "miniflux.nixmox.lan";
      depends_on = [ "postgresql" "caddy" "authentik" ];
      ports = [ 8081 ];
      interface = {
        terraform = {
          modules = [ "./terraform/miniflux" ];
          targets = [ "authentik_app" "authentik_provider" ];
          variables = {
            domain = "miniflux.nixmox.lan";
            oidc_client_id = "miniflux-oidc";
            oidc_scopes = [ "openid" "email" "profile" ];
          };
        };
        db = {
          name = "miniflux";
          port = 5432;
          mode = "shared";
          owner = "miniflux";
        };
        auth = {
          type = "oidc";
          provider = "authentik";
          oidc = {
            redirect_uris = [ "https://miniflux.nixmox.lan/oauth2/oidc/callback" ];
            scopes = [ "openid" "email" "profile" ];
            username_claim = "preferred_username";
            groups_claim = "groups";
          };
        };
        proxy = {
          domain = "miniflux.nixmox.lan";
          path = "/";
          upstream = "192.168.99.17:8081";
          tls = true;
          authz = false;
        };
        health = {
          startup = "systemctl is-active --quiet miniflux";
          liveness = "curl -f -s http://localhost:8081/healthcheck";
          interval = 30;
          timeout = 10;
          retries = 3;
        };
        logs.unit = "miniflux";
      };
    };

    wikijs = {
      enable = true;
      ip = "192.168.99.18";
      hostname = "wikijs.nixmox.lan";
      depends_on = [ "postgresql" "caddy" "authentik" ];
      ports = [ 3000 ];
      interface = {
        terraform = {
          modules = [ "./terraform/wikijs" ];
          targets = [ "authentik_app" "authentik_provider" ];
          variables = {
            domain = "wiki.nixmox.lan";
            oidc_client_id = "wikijs-oidc";
            oidc_scopes = [ "openid" "email" "profile" ];
          };
        };
        db = {
          name = "wikijs";
          port = 5432;
          mode = "shared";
          owner = "wikijs";
          # Wiki.js' PostgreSQL search engine needs trigram indexes.
          extensions = [ "pg_trgm" ];
        };
        auth = {
          type = "oidc";
          provider = "authentik";
          oidc = {
            redirect_uris = [ "https://wiki.nixmox.lan/login/authentik/callback" ];
            scopes = [ "openid" "email" "profile" ];
            username_claim = "preferred_username";
            groups_claim = "groups";
          };
        };
        proxy = {
          domain = "wiki.nixmox.lan";
          path = "/";
          upstream = "192.168.99.18:3000";
          tls = true;
          # Wiki.js logs in through OIDC itself (its own authentication strategy).
          authz = false;
        };
        health = {
          startup = "systemctl is-active --quiet wiki-js";
          liveness = "curl -f -s http://localhost:3000/healthz";
          interval = 30;
          timeout = 10;
          retries = 3;
        };
        logs.unit = "wiki-js";
      };
    };

    prometheus = {
      enable = true;
      ip = "192.168.99.20";
      hostname = "prometheus.nixmox.lan";
      depends_on = [ "caddy" "dns" "authentik" ];
      ports = [ 9090 ];
      interface = {
        terraform = {
          modules = [ "./terraform/prometheus" ];
          targets = [ "authentik_app" "authentik_provider" "authentik_outpost" ];
          variables = {
            domain = "prometheus.nixmox.lan";
            oidc_client_id = "prometheus-oidc";
            oidc_scopes = [ "openid" "email" "profile" ];
          };
        };
        auth = {
          type = "oidc";
          provider = "authentik";
          oidc = {
            redirect_uris = [ "https://prometheus.nixmox.lan/outpost.goauthentik.io/callback" ];
            scopes = [ "openid" "email" "profile" ];
            username_claim = "preferred_username";
            groups_claim = "groups";
          };
        };
        proxy = {
          domain = "prometheus.nixmox.lan";
          path = "/";
          upstream = "192.168.99.20:9090";
          tls = true;
          authz = true;
        };
        health = {
          startup = "systemctl is-active --quiet prometheus";
          liveness = "curl -f -s http://localhost:9090/-/healthy";
          interval = 30;
          timeout = 10;
          retries = 3;
        };
        logs.unit = "prometheus";
      };
    };

    loki = {
      enable = true;
      ip = "192.168.99.21";
      hostname = "loki.nixmox.lan";
      depends_on = [ "caddy" "dns" "authentik" ];
      ports = [ 3100 ];
      interface = {
        terraform = {
          modules = [ "./terraform/loki" ];
          targets = [ "authentik_app" "authentik_provider" "authentik_outpost" ];
          variables = {
            domain = "loki.nixmox.lan";
            oidc_client_id = "loki-oidc";
            oidc_scopes = [ "openid" "email" "profile" ];
          };
        };
        auth = {
          type = "oidc";
          provider = "authentik";
          oidc = {
            redirect_uris = [ "https://loki.nixmox.lan/outpost.goauthentik.io/callback" ];
            scopes = [ "openid" "email" "profile" ];
            username_claim = "preferred_username";
            groups_claim = "groups";
          };
        };
        # Log shippers push to 192.168.99.21:3100 directly; the proxied API
        # is for people and sits behind forward_auth.
        proxy = {
          domain = "loki.nixmox.lan";
          path = "/";
          upstream = "192.168.99.21:3100";
          tls = true;
          authz = true;
        };
        health = {
          startup = "systemctl is-active --quiet loki";
          liveness = "curl -f -s http://localhost:3100/ready";
          interval = 30;
          timeout = 10;
          retries = 3;
        };
        logs.unit = "loki";
      };
    };

    alertmanager = {
      enable = true;
      ip = "192.168.99.22";
      hostname = "alertmanager.nixmox.lan";
      depends_on = [ "caddy" "authentik" "prometheus" ];
      ports = [ 9093 ];
      interface = {
        terraform = {
          modules = [ "./terraform/alertmanager" ];
          targets = [ "authentik_app" "authentik_provider" "authentik_outpost" ];
          variables = {
            domain = "alertmanager.nixmox.lan";
            oidc_client_id = "alertmanager-oidc";
            oidc_scopes = [ "openid" "email" "profile" ];
          };
        };
        auth = {
          type = "oidc";
          provider = "authentik";
          oidc = {
            redirect_uris = [ "https://alertmanager.nixmox.lan/outpost.goauthentik.io/callback" ];
            scopes = [ "openid" "email" "profile" ];
            username_claim = "preferred_username";
            groups_claim = "groups";
          };
        };
        proxy = {
          domain = "alertmanager.nixmox.lan";
          # Served under a prefix; Caddy strips it (handle_path) before
          # proxying, alertmanager runs with --web.route-prefix=/.
          path = "/alertmanager";
          upstream = "192.168.99.22:9093";
          tls = true;
          authz = true;
        };
        health = {
          startup = "systemctl is-active --quiet alertmanager";
          liveness = "curl -f -s http://localhost:9093/-/healthy";
          interval = 30;
          timeout = 10;
          retries = 3;
        };
        logs.unit = "alertmanager";
      };
    };

    grafana = {
      enable = true;
      ip = "192.168.99.23";
      hostname = "grafana.nixmox.lan";
      depends_on = [ "postgresql" "caddy" "authentik" "prometheus" "loki" ];
      ports = [ 3000 ];
      interface = {
        terraform = {
          modules = [ "./terraform/grafana" ];
          targets = [ "authentik_app" "authentik_provider" "authentik_outpost" ];
          variables = {
            domain = "grafana.nixmox.lan";
            oidc_client_id = "grafana-oidc";
            oidc_scopes = [ "openid" "email" "profile" ];
          };
        };
        db = {
          name = "grafana";
          port = 5432;
          mode = "shared";
          owner = "grafana";
        };
        auth = {
          type = "oidc";
          provider = "authentik";
          oidc = {
            redirect_uris = [ "https://grafana.nixmox.lan/login/generic_oauth" ];
            scopes = [ "openid" "email" "profile" ];
            username_claim = "preferred_username";
            groups_claim = "groups";
          };
        };
        proxy = {
          domain = "grafana.nixmox.lan";
          path = "/";
          upstream = "192.168.99.23:3000";
          tls = true;
          authz = true;
        };
        health = {
          startup = "systemctl is-active --quiet grafana";
          liveness = "curl -f -s http://localhost:3000/api/health";
          interval = 30;
          timeout = 10;
          retries = 3;
        };
        logs.unit = "grafana";
      };
    };

    jellyfin = {
      enable = true;
      ip = "192.168.99.30";
      hostname = "jellyfin.nixmox.lan";
      depends_on = [ "caddy" "dns" ];
      ports = [ 8096 ];
      interface = {
        terraform = {
          modules = [ "./terraform/jellyfin" ];
          variables = { domain = "jellyfin.nixmox.lan"; network_cidr = "192.168.99.0/24"; };
        };
        proxy = {
          domain = "jellyfin.nixmox.lan";
          path = "/";
          upstream = "192.168.99.30:8096";
          tls = true;
          # TV and phone clients cannot do forward auth; Jellyfin has its own users.
          authz = false;
        };
        health = {
          startup = "systemctl is-active --quiet jellyfin";
          liveness = "curl -f -s http://localhost:8096/health";
          interval = 30;
          timeout = 10;
          retries = 3;
        };
        logs.unit = "jellyfin";
      };
    };

    homepage = {
      enable = true;
      ip = "192.168.99.31";
      hostname = "homepage.nixmox.lan";
      depends_on = [ "caddy" "authentik" "grafana" ];
      ports = [ 8082 ];
      interface = {
        terraform = {
          modules = [ "./terraform/homepage" ];
          targets = [ "authentik_app" "authentik_provider" "authentik_outpost" ];
          variables = {
            domain = "homepage.nixmox.lan";
            oidc_client_id = "homepage-oidc";
            oidc_scopes = [ "openid" "email" "profile" ];
          };
        };
        auth = {
          type = "oidc";
          provider = "authentik";
          oidc = {
            redirect_uris = [ "https://homepage.nixmox.lan/outpost.goauthentik.io/callback" ];
            scopes = [ "openid" "email" "profile" ];
            username_claim = "preferred_username";
            groups_claim = "groups";
          };
        };
        proxy = {
          domain = "homepage.nixmox.lan";
          path = "/";
          upstream = "192.168.99.31:8082";
          tls = true;
          authz = true;
        };
        health = {
          startup = "systemctl is-active --quiet homepage-dashboard";
          liveness = "curl -f -s http://localhost:8082/";
          interval = 30;
          timeout = 10;
          retries = 3;
        };
        logs.unit = "homepage-dashboard";
      };
    };
  };
}
