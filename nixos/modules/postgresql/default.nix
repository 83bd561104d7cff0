# The shared PostgreSQL server: every database, owner role and extension the
# manifest's services declare (nixos/lib/postgresql.nix), each role reachable
# only from its own service's host, passwords set from SOPS at runtime.
{ config, lib, pkgs, nixmox, ... }:

let
  cfg = config.services.nixmox.postgresql;
  pg = nixmox.postgresql;
  server = pg.server;
  ensureSql = pkgs.writeText "nixmox-postgresql-ensure.sql" pg.ensureSql;
  # Only file paths are in the store; psql reads the values at run time.
  passwordSql = pkgs.writeText "nixmox-postgresql-passwords.sql" pg.passwordSql;
  passwordSecrets = map (r: r.password_secret) (lib.attrValues pg.roles);
in
{
  options.services.nixmox.postgresql = {
    enable = lib.mkOption {
      type = lib.types.bool;
      default = server != null && config.nixmox.host == server.service;
      defaultText = lib.literalExpression "config.nixmox.host is the manifest's standalone db service";
      description = "Run the NixMox PostgreSQL server on this host.";
    };
    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.postgresql_15;
      defaultText = lib.literalExpression "pkgs.postgresql_15";
      description = "PostgreSQL package (the SQL is tested against PostgreSQL 15).";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [{
      assertion = server != null;
      message = "services.nixmox.postgresql: no service in the manifest has interface.db.mode = \"standalone\"";
    }];

    services.postgresql = {
      enable = true;
      package = cfg.package;
      enableTCPIP = true;
      settings = {
        port = server.port;
        password_encryption = "scram-sha-256";
      };
      # Local superuser access over the socket stays as NixOS sets it; each
      # service's role may reach only its own database, only from its host.
      authentication = lib.concatStringsSep "\n" pg.hba + "\n";
      ensureDatabases = pg.ensureDatabases;
      ensureUsers = pg.ensureUsers;
    };

    # Owners, revoked PUBLIC access, extensions (idempotent), then the role
    # passwords from the SOPS secrets this host decrypts.
    systemd.services.nixmox-postgresql-ensure = {
      description = "Ensure the NixMox databases, roles and extensions";
      wantedBy = [ "multi-user.target" ];
      requires = [ "postgresql.service" ];
      after = [ "postgresql.service" "postgresql-setup.service" ];
      path = [ cfg.package pkgs.coreutils ];
      environment.PGPORT = toString server.port;
      restartTriggers = [ ensureSql passwordSql ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        User = "postgres";
        Group = "postgres";
      };
      script = ''
        psql -X -q -v ON_ERROR_STOP=1 -d postgres -f ${ensureSql}
        psql -X -q -v ON_ERROR_STOP=1 -d postgres -f ${passwordSql}
      '';
    };

    sops.secrets = lib.genAttrs passwordSecrets (_: {
      owner = "postgres";
      mode = "0400";
      restartUnits = [ "nixmox-postgresql-ensure.service" ];
    });
  };
}
