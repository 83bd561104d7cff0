# PostgreSQL: the databases, owner roles and extensions every enabled service
# declares in interface.db, and the SQL that ensures them.
#
# The service whose db.mode is "standalone" is the database server itself;
# every other interface.db is a database on it, owned by db.owner (default:
# the database name), with db.extensions created in it.
{ manifest, settings ? { } }:
let
  u = import ./util.nix;
  cfg = (import ./settings.nix settings).postgresql;
  svcs = import ./services.nix { inherit manifest; };
  secrets = import ./secrets.nix { inherit manifest settings; };

  withDb = u.filterAttrs (_: s: s.interface.db != null) svcs.enabled;
  serverNames = builtins.attrNames (u.filterAttrs (_: s: s.interface.db.mode == "standalone") withDb);
  clients = u.filterAttrs (_: s: s.interface.db.mode != "standalone") withDb;

  server =
    if builtins.length serverNames > 1 then
      throw "nixmox: more than one database server (interface.db.mode = \"standalone\"): ${builtins.concatStringsSep ", " serverNames}"
    else if serverNames == [ ] then null
    else
      let s = svcs.enabled.${builtins.head serverNames}; in {
        service = s.name;
        inherit (s) ip hostname;
        port = s.interface.db.port;
      };

  # Names reach SQL quoted all the same (identifiers "..", literals '..'); this
  # check (the console's validation rule) keeps them safe for psql's \connect
  # and pg_hba.conf too. Extensions may have a dash (uuid-ossp).
  identRe = "[a-z_][a-z0-9_]{0,62}";
  extRe = "[a-z_][a-z0-9_-]{0,62}";
  checked = re: what: v:
    if builtins.isString v && builtins.match re v != null then v
    else throw "nixmox: ${what}: ${builtins.toJSON v} is not a valid PostgreSQL name (must match ${re})";
  reserved = [ "postgres" "public" "template0" "template1" ];

  quoteIdent = s: "\"" + builtins.replaceStrings [ "\"" ] [ "\"\"" ] s + "\"";
  quoteLiteral = s: "'" + builtins.replaceStrings [ "'" ] [ "''" ] s + "'";

  databaseOf = name: s:
    let
      db = s.interface.db;
      where = "${s.group}.${name}.interface.db";
      dbName = checked identRe "${where}.name" db.name;
      owner = checked identRe "${where}.owner" db.owner;
    in
    if builtins.elem dbName reserved then throw "nixmox: ${where}.name: \"${dbName}\" is reserved"
    else if builtins.elem owner reserved then throw "nixmox: ${where}.owner: \"${owner}\" is reserved"
    else {
      name = dbName;
      inherit owner;
      service = name;
      port = db.port;
      client_ip = s.ip;
      extensions = map (checked extRe "${where}.extensions") db.extensions;
      password_secret = secrets.all."${name}/db_password".name;
    };

  dbList = builtins.sort (a: b: a.name < b.name) (builtins.attrValues (builtins.mapAttrs databaseOf clients));

  duplicates = what: key:
    let
      groups = builtins.groupBy key dbList;
      dups = builtins.filter (k: builtins.length groups.${k} > 1) (builtins.attrNames groups);
    in
    if dups == [ ] then null
    else "nixmox: ${what} used by several services: ${builtins.concatStringsSep "; " (map (k: "${k} (${builtins.concatStringsSep ", " (map (d: d.service) groups.${k})})") dups)}";

  problems = builtins.filter (x: x != null) [
    (duplicates "database name" (d: d.name))
    (duplicates "owner role (each service needs its own role: its password is a per-service secret)" (d: d.owner))
    (if dbList != [ ] && server == null then
      "nixmox: services declare databases (${builtins.concatStringsSep ", " (map (d: d.service) dbList)}) but no enabled service has interface.db.mode = \"standalone\""
    else null)
  ];
  checkedList = if problems != [ ] then throw (builtins.head problems) else dbList;

  databases = builtins.listToAttrs (map (d: { inherit (d) name; value = d; }) checkedList);
  roles = builtins.listToAttrs (map
    (d: {
      name = d.owner;
      value = {
        name = d.owner;
        inherit (d) service;
        databases = [ d.name ];
        password_secret = d.password_secret;
        password_file = secrets.all.${d.password_secret}.path;
      };
    })
    checkedList);

  roleSql = r:
    let n = quoteLiteral r.name; in
    "-- role ${r.name} (service ${r.service}); its password is set from SOPS by passwordSql\n"
    + "SELECT format('CREATE ROLE %I LOGIN', ${n}) WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ${n}) \\gexec\n";

  databaseSql = d:
    let n = quoteLiteral d.name; o = quoteLiteral d.owner; in
    "-- database ${d.name} (service ${d.service}), owner ${d.owner}\n"
    + "SELECT format('CREATE DATABASE %I OWNER %I', ${n}, ${o}) WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = ${n}) \\gexec\n"
    + "SELECT format('ALTER DATABASE %I OWNER TO %I', ${n}, ${o}) FROM pg_catalog.pg_database WHERE datname = ${n} AND pg_catalog.pg_get_userbyid(datdba) <> ${o} \\gexec\n"
    # Only when PUBLIC still has a privilege: an unconditional REVOKE rewrites the row.
    + "SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', ${n}) FROM pg_catalog.pg_database WHERE datname = ${n} AND (datacl IS NULL OR EXISTS (SELECT FROM pg_catalog.aclexplode(datacl) a WHERE a.grantee = 0)) \\gexec\n";

  extensionSql = d:
    if d.extensions == [ ] then ""
    else
      "\n\\connect '${d.name}'\n"
      + u.concatMapStrings (e: "SELECT format('CREATE EXTENSION %I', ${quoteLiteral e}) WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = ${quoteLiteral e}) \\gexec\n") d.extensions;

  header = ''
    -- Generated by nixos/lib/postgresql.nix from the NixMox manifest. Do not edit.
    -- Idempotent; run as the superuser with psql (uses \gexec and \connect):
    --   psql -X -q -v ON_ERROR_STOP=1 -d postgres -f FILE
    -- No password here: passwordSql sets each role's password from its SOPS secret.
    \set ON_ERROR_STOP on
    SET client_min_messages = warning;
  '';

  ensureSql =
    header
    + u.concatMapStrings (d: "\n" + roleSql roles.${d.owner}) checkedList
    + u.concatMapStrings (d: "\n" + databaseSql d) checkedList
    + u.concatMapStrings extensionSql checkedList;

  # Reads each password with psql's backquote (never on a command line).
  # psql turns a missing or unreadable file into "" and PostgreSQL 15 then
  # *clears* the role's password (exit 0): so every file is read and checked
  # first, and one that is missing or empty stops the run (ON_ERROR_STOP)
  # before any role is changed.
  passwordSqlWith = fileOf:
    let
      entries = builtins.genList
        (i:
          let
            d = builtins.elemAt checkedList i;
            f = fileOf roles.${d.owner};
          in
          if builtins.match "/[A-Za-z0-9._/-]+" f == null then throw "nixmox: password file ${builtins.toJSON f} must be an absolute path of [A-Za-z0-9._/-]"
          else { inherit (d) owner; file = f; var = "nixmox_password_${toString i}"; })
        (builtins.length checkedList);
      read = e: ''

        -- role ${e.owner}: ${e.file}
        \set ${e.var} `cat '${e.file}'`
        SELECT :'${e.var}' = ''' AS nixmox_missing \gset
        \if :nixmox_missing
        DO $nixmox$ BEGIN RAISE EXCEPTION 'nixmox: password file ${e.file} of role ${e.owner} is missing or empty: no role password was changed'; END $nixmox$;
        \endif
      '';
      set = e: ''
        ALTER ROLE ${quoteIdent e.owner} PASSWORD :'${e.var}';
        \unset ${e.var}
      '';
    in
    ''
      -- Generated by nixos/lib/postgresql.nix. Sets role passwords from files
      -- (sops-nix secrets); the values never appear in the Nix store.
      \set ON_ERROR_STOP on
    ''
    + u.concatMapStrings read entries
    + (if entries == [ ] then "" else "\n-- every file is there and not empty: set the passwords\n")
    + u.concatMapStrings set entries
    + "\\unset nixmox_missing\n";
in
{
  inherit server databases roles ensureSql;
  inherit quoteIdent quoteLiteral;

  # For services.postgresql (ownership and extensions come from ensureSql).
  ensureDatabases = map (d: d.name) checkedList;
  ensureUsers = map (d: { name = d.owner; }) checkedList;

  # pg_hba.conf lines: each owner only from its service's host, to its database.
  hba = map (d: "host ${quoteIdent d.name} ${quoteIdent d.owner} ${d.client_ip}/32 ${cfg.authMethod}") checkedList;

  passwordSql = passwordSqlWith (r: r.password_file);
  # The same with other password files (tests; hosts with another secrets dir).
  inherit passwordSqlWith;

  # The database a service owns on the server, or null.
  forService = name:
    let s = svcs.get name; in
    if s.interface.db == null || s.interface.db.mode == "standalone" || !s.enable then null
    else databases.${s.interface.db.name};
}
