# The database host needs sizing the manifest does not describe.
{ lib, ... }:
{
  services.postgresql.settings = {
    shared_buffers = "1GB";
    effective_cache_size = "3GB";
    max_connections = 200;
    log_min_duration_statement = "1s";
  };

  # Nightly logical dumps of every database (restore: psql < file).
  services.postgresqlBackup = {
    enable = true;
    backupAll = true;
    location = "/var/backup/postgresql";
    startAt = "*-*-* 02:30:00";
  };
}
