# Typed declarations of the nixpkgs service options the NixMox modules set
# or read, with nixpkgs' types (settings stay freeform where nixpkgs makes
# them freeform, with its value types and its typed keys), and the
# definitions those nixpkgs modules make that meet NixMox's own: the system
# users the sops-nix secrets are chowned to, and homepage-dashboard's
# HOMEPAGE_ALLOWED_HOSTS environment.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkIf mkMerge types;
  opt = type: default: mkOption { inherit type default; };
  enable = opt types.bool false;
  # pkgs.formats.{yaml,json} values.
  value = types.nullOr (types.oneOf [ types.bool types.int types.float types.str types.path (types.attrsOf value) (types.listOf value) ]);
  freeform = options: opt (types.submodule { freeformType = types.attrsOf value; inherit options; }) { };
  iniAtom = types.nullOr (types.oneOf [ types.bool types.int types.float types.str ]);
  cfg = config.services;
  systemUser = name: { users.users.${name} = { group = name; isSystemUser = true; }; };
in
{
  options.services = {
    caddy = {
      inherit enable;
      user = opt types.str "caddy";
      group = opt types.str "caddy";
      globalConfig = opt types.lines "";
      extraConfig = opt types.lines "";
    };

    postgresql = {
      inherit enable;
      package = mkOption { type = types.package; };
      enableTCPIP = opt types.bool false;
      authentication = opt types.lines "";
      ensureDatabases = opt (types.listOf types.str) [ ];
      ensureUsers = opt
        (types.listOf (types.submodule {
          options = {
            name = mkOption { type = types.str; };
            ensureDBOwnership = opt types.bool false;
          };
        }))
        [ ];
      settings = opt
        (types.submodule {
          freeformType = types.attrsOf (types.oneOf [ types.bool types.float types.int types.str ]);
          options.port = opt types.port 5432;
        })
        { };
    };
    postgresqlBackup = {
      inherit enable;
      backupAll = opt types.bool false;
      location = opt types.path "/var/backup/postgresql";
      startAt = opt (types.either types.str (types.listOf types.str)) "*-*-* 01:15:00";
    };

    blocky = {
      inherit enable;
      settings = opt value { };
    };

    vaultwarden = {
      inherit enable;
      dbBackend = opt (types.enum [ "sqlite" "mysql" "postgresql" ]) "sqlite";
      environmentFile = opt (types.coercedTo types.path lib.singleton (types.listOf types.path)) [ ];
      config = opt (types.attrsOf (types.nullOr (types.oneOf [ types.bool types.int types.str ]))) { };
    };

    miniflux = {
      inherit enable;
      createDatabaseLocally = opt types.bool true;
      adminCredentialsFile = opt (types.nullOr types.path) null;
      config = opt
        (types.submodule {
          freeformType = types.attrsOf (types.oneOf [ types.str types.int ]);
          options = {
            LISTEN_ADDR = opt types.str "localhost:8080";
            DATABASE_URL = opt types.str "user=miniflux host=/run/postgresql dbname=miniflux";
            RUN_MIGRATIONS = opt (types.enum [ 0 1 ]) 1;
          };
        })
        { };
    };

    nextcloud = {
      inherit enable;
      package = mkOption { type = types.package; };
      hostName = mkOption { type = types.str; };
      https = opt types.bool false;
      configureRedis = opt types.bool false;
      database.createLocally = opt types.bool false;
      config = {
        dbtype = mkOption { type = types.enum [ "sqlite" "pgsql" "mysql" ]; };
        dbhost = opt (types.nullOr types.str) "localhost";
        dbname = opt (types.nullOr types.str) "nextcloud";
        dbuser = opt (types.nullOr types.str) "nextcloud";
        dbpassFile = opt (types.nullOr types.str) null;
        adminuser = opt (types.nullOr types.str) "root";
        adminpassFile = mkOption { type = types.str; };
      };
      settings = freeform {
        trusted_proxies = opt (types.listOf types.str) [ ];
        trusted_domains = opt (types.listOf types.str) [ ];
        overwriteprotocol = opt (types.enum [ "" "http" "https" ]) "";
      };
      extraApps = opt (types.attrsOf types.package) { };
      occ = mkOption { type = types.package; internal = true; };
    };

    jellyfin = {
      inherit enable;
      openFirewall = opt types.bool false;
      dataDir = opt types.path "/var/lib/jellyfin";
    };

    wiki-js = {
      inherit enable;
      environmentFile = opt (types.nullOr types.path) null;
      settings = freeform {
        port = opt types.port 3000;
        bindIP = opt types.str "0.0.0.0";
        db = freeform {
          type = opt (types.enum [ "postgres" "mysql" "mariadb" "mssql" "sqlite" ]) "postgres";
          host = opt types.str "localhost";
          port = opt types.port 5432;
          db = opt types.str "wiki";
          user = opt types.str "wikijs";
        };
      };
    };

    guacamole-server = {
      inherit enable;
      host = opt types.str "127.0.0.1";
      port = opt types.port 4822;
    };
    guacamole-client = {
      inherit enable;
      enableWebserver = opt types.bool true;
      settings = opt (types.submodule { freeformType = types.attrsOf iniAtom; }) { };
    };

    homepage-dashboard = {
      inherit enable;
      listenPort = opt types.port 8082;
      allowedHosts = opt types.str "localhost:8082,127.0.0.1:8082";
      services = opt value [ ];
      settings = opt value { };
    };

    prometheus = {
      inherit enable;
      port = opt types.port 9090;
      listenAddress = opt types.str "0.0.0.0";
      webExternalUrl = opt (types.nullOr types.str) null;
      extraFlags = opt (types.listOf types.str) [ ];
      retentionTime = opt (types.nullOr types.str) null;
      scrapeConfigs = opt
        (types.listOf (types.submodule {
          options = {
            job_name = mkOption { type = types.str; };
            static_configs = opt
              (types.nullOr (types.listOf (types.submodule {
                options = {
                  targets = mkOption { type = types.listOf types.str; };
                  labels = opt (types.attrsOf types.str) { };
                };
              })))
              null;
          };
        }))
        [ ];
      alertmanagers = opt (types.listOf types.attrs) [ ];
      rules = opt (types.listOf types.str) [ ];
      exporters.node = {
        inherit enable;
        port = opt types.port 9100;
        listenAddress = opt types.str "0.0.0.0";
        openFirewall = opt types.bool false;
        firewallFilter = opt (types.nullOr types.str) null;
        enabledCollectors = opt (types.listOf types.str) [ ];
      };
      alertmanager = {
        inherit enable;
        port = opt types.port 9093;
        listenAddress = opt types.str "";
        webExternalUrl = opt (types.nullOr types.str) null;
        extraFlags = opt (types.listOf types.str) [ ];
        configuration = opt (types.nullOr types.attrs) null;
      };
    };

    loki = {
      inherit enable;
      dataDir = opt types.path "/var/lib/loki";
      configuration = opt (types.attrsOf types.anything) { };
    };

    grafana = {
      inherit enable;
      settings = freeform {
        server = freeform {
          http_addr = opt types.str "127.0.0.1";
          http_port = opt types.port 3000;
          domain = opt types.str "localhost";
          root_url = opt types.str "%(protocol)s://%(domain)s:%(http_port)s/";
        };
        security = freeform {
          secret_key = opt types.str "";
        };
        database = freeform {
          type = opt (types.enum [ "mysql" "sqlite3" "postgres" ]) "sqlite3";
          host = opt types.str "127.0.0.1:3306";
          name = opt types.str "grafana";
          user = opt types.str "root";
          password = opt types.str "";
        };
      };
      provision = {
        enable = opt types.bool false;
        datasources.settings = opt
          (types.nullOr (types.submodule {
            options.datasources = opt
              (types.listOf (types.submodule {
                freeformType = types.attrsOf value;
                options = {
                  name = mkOption { type = types.str; };
                  type = mkOption { type = types.str; };
                  url = opt types.str "";
                  isDefault = opt types.bool false;
                };
              }))
              [ ];
          }))
          null;
      };
    };
  };

  # What those nixpkgs modules define that NixMox's definitions meet.
  config = mkMerge [
    (mkIf cfg.caddy.enable (systemUser "caddy"))
    (mkIf cfg.postgresql.enable (systemUser "postgres"))
    (mkIf cfg.vaultwarden.enable (systemUser "vaultwarden"))
    (mkIf cfg.nextcloud.enable (systemUser "nextcloud"))
    (mkIf cfg.nextcloud.enable { services.nextcloud.occ = pkgs.writeText "nextcloud-occ" ""; })
    (mkIf cfg.jellyfin.enable (systemUser "jellyfin"))
    (mkIf cfg.guacamole-client.enable (systemUser "tomcat"))
    (mkIf cfg.grafana.enable (systemUser "grafana"))
    (mkIf cfg.homepage-dashboard.enable {
      systemd.services.homepage-dashboard.environment = {
        HOMEPAGE_ALLOWED_HOSTS = cfg.homepage-dashboard.allowedHosts;
        HOMEPAGE_CONFIG_DIR = "/etc/homepage-dashboard";
        PORT = toString cfg.homepage-dashboard.listenPort;
      };
    })
    (mkIf cfg.prometheus.exporters.node.enable {
      networking.firewall.extraCommands = lib.optionalString
        (cfg.prometheus.exporters.node.openFirewall && cfg.prometheus.exporters.node.firewallFilter != null)
        "iptables -A nixos-fw ${cfg.prometheus.exporters.node.firewallFilter} -m comment --comment node-exporter -j nixos-fw-accept\n";
    })
  ];
}
