# Evaluates nixos/modules (and nixos/hosts/<host>.nix) for one host of a
# manifest against a STAND-IN of the NixOS module system: nixpkgs is not
# available where the tests run. It checks what can be checked without
# nixpkgs - every reference into nixos/lib, every sops secret/template a
# module uses is declared, assertions hold, two modules never set one value
# differently - and returns the merged config. It does NOT check option
# names or types of nixpkgs' own modules (services.caddy, ...).
#
#   nix-instantiate --eval --strict --json tests/nixos/stub/eval.nix \
#     --arg manifestPath ./nixos/service-manifest.nix --argstr host caddy
{ manifestPath, host }:
let
  manifest = import manifestPath;
  nixmox = import ../../../nixos/lib { inherit manifest; };
  lib = import ./lib.nix;

  pkgs = {
    postgresql_15 = "<pkgs.postgresql_15>";
    nextcloud31 = { name = "<pkgs.nextcloud31>"; packages.apps.user_oidc = "<pkgs.nextcloud31.packages.apps.user_oidc>"; };
    coreutils = "<pkgs.coreutils>";
    curl = "<pkgs.curl>";
    writeText = name: text: "/nix/store/stub-${name}";
  };
  modulesPath = "<nixpkgs>/nixos/modules";

  ownHost = ../../../nixos/hosts + "/${host}.nix";
  roots = [
    ../../../nixos/modules
    { nixmox.host = host; nixmox.secretsRoot = "<nixos>"; }
  ] ++ (if builtins.pathExists ownHost then [ ownHost ] else [ ]);

  isType = t: v: builtins.isAttrs v && (v._type or null) == t;

  # Every module, imports followed; nixpkgs' own modules are recorded only.
  load = m:
    if builtins.isString m then { external = [ m ]; modules = [ ]; }
    else
      let
        f = if builtins.isPath m then import m else m;
        v = if builtins.isFunction f then f { inherit config lib pkgs modulesPath nixmox manifest; } else f;
        own = {
          options = v.options or { };
          config = if v ? config || v ? options || v ? imports then v.config or { } else v;
          file = if builtins.isPath m then toString m else "<inline>";
        };
        sub = map load (v.imports or [ ]);
      in
      {
        external = builtins.concatLists (map (s: s.external) sub);
        modules = [ own ] ++ builtins.concatLists (map (s: s.modules) sub);
      };
  loaded = builtins.foldl' (acc: r: let l = load r; in { external = acc.external ++ l.external; modules = acc.modules ++ l.modules; }) { external = [ ]; modules = [ ]; } roots;

  # --- declared options (nixmox.*, services.nixmox.*): definition or default
  mergeDecls = a: b: a // builtins.mapAttrs (n: v: if a ? ${n} && !(isType "option" v) then mergeDecls a.${n} v else v) b;
  decls = builtins.foldl' mergeDecls { } (map (m: m.options) loaded.modules);

  # Definitions of declared options, from unconditional config only.
  at = path: set: builtins.foldl' (s: k: if builtins.isAttrs s && s ? ${k} && !(isType "if" s) then s.${k} else null) set path;
  optionValue = path: opt:
    let
      defs = builtins.filter (v: v != null && !(isType "if" v)) (map (m: at path m.config) loaded.modules);
      plain = map (v: if isType "override" v then v.content else v) defs;
    in
    if plain != [ ] then builtins.head plain
    else if opt ? default then opt.default
    else throw "stub eval: option ${builtins.concatStringsSep "." path} has no value";
  values = path: d:
    if isType "option" d then optionValue path d
    else builtins.mapAttrs (n: v: values (path ++ [ n ]) v) d;
  optVals = values [ ] decls;

  # --- merged config, mkIf/mkMerge/mkOverride resolved
  prio = v: if isType "override" v then v.priority else 100;
  strip = v: if isType "override" v then v.content else v;
  flatten = v:
    if isType "if" v then (if v.condition then flatten v.content else [ ])
    else if isType "merge" v then builtins.concatMap flatten v.contents
    else if isType "override" v then map (c: { _type = "override"; inherit (v) priority; content = c; }) (flatten v.content)
    else [ v ];
  mergeDefs = path: defs:
    let
      flat = builtins.concatMap flatten defs;
      best = builtins.foldl' (m: d: if prio d < m then prio d else m) 1000000 flat;
      top = map strip (builtins.filter (d: prio d == best) flat);
      where = builtins.concatStringsSep "." path;
    in
    if top == [ ] then null
    else if builtins.all builtins.isAttrs top then
      let names = builtins.attrNames (builtins.foldl' (a: b: a // b) { } top); in
      # Children stay lazy (null when only disabled mkIfs define them): forcing
      # them here would evaluate definitions that read `config`.
      builtins.listToAttrs (map
        (n: { name = n; value = mergeDefs (path ++ [ n ]) (map (s: s.${n}) (builtins.filter (s: s ? ${n}) top)); })
        names)
    else if builtins.all builtins.isList top then builtins.concatLists top
    else if builtins.all (x: x == builtins.head top) top then builtins.head top
    else throw "stub eval: conflicting definitions of ${where}: ${builtins.toJSON top}";
  merged = mergeDefs [ ] (map (m: m.config) loaded.modules);

  # What modules read from config: declared options, and stand-ins for the
  # nixpkgs/sops-nix options they read (only secrets/templates that are
  # actually declared exist, so a typo fails here).
  config = optVals // {
    services = (optVals.services or { }) // {
      caddy.user = "caddy";
      loki.dataDir = "/var/lib/loki";
      nextcloud = {
        occ = "/nix/store/stub-nextcloud-occ";
        package = merged.services.nextcloud.package or pkgs.nextcloud31;
      };
    };
    sops = {
      # sops-nix has a placeholder per declared secret; the host's secrets
      # are the lib's byHost (what modules/core.nix declares). Taken from the
      # lib, not from `merged`, which template contents would make circular.
      placeholder = builtins.mapAttrs (n: _: "<SOPS:${n}>") (nixmox.secrets.byHost.${host} or { });
      secrets = builtins.mapAttrs (n: v: { path = "/run/secrets/${n}"; } // v) (present (merged.sops.secrets or { }));
      templates = builtins.mapAttrs (n: v: { path = "/run/secrets/rendered/${n}"; } // v) (present (merged.sops.templates or { }));
    };
  };

  present = set: builtins.listToAttrs (builtins.filter (x: x.value != null)
    (map (n: { name = n; value = set.${n}; }) (builtins.attrNames set)));
  clean = v: if builtins.isAttrs v then builtins.mapAttrs (_: clean) (present v)
    else if builtins.isList v then map clean v else v;

  failed = builtins.filter (a: !a.assertion) (clean (merged.assertions or [ ]));
in
if failed != [ ] then throw "stub eval: failed assertions on ${host}: ${builtins.toJSON (map (a: a.message) failed)}"
else {
  inherit host;
  options = optVals;
  config = clean (removeAttrs merged [ "assertions" ]);
  external_modules = loaded.external;
  files = map (m: m.file) (builtins.filter (m: m.file != "<inline>") loaded.modules);
}
