# A stand-in for the parts of nixpkgs' `lib` that nixos/modules use, in
# builtins only, for tests/nixos/stub/eval.nix. Option types are not checked:
# `types.*` are names only.
let
  type = name: { _type = "type"; inherit name; };
in
rec {
  mkOption = args: args // { _type = "option"; };
  mkEnableOption = what: mkOption { default = false; description = "Whether to enable ${what}."; };
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkDefault = mkOverride 1000;
  mkForce = mkOverride 50;
  literalExpression = text: { _type = "literalExpression"; inherit text; };

  types = {
    str = type "str";
    bool = type "bool";
    path = type "path";
    package = type "package";
    attrs = type "attrs";
    int = type "int";
    port = type "port";
    lines = type "lines";
    listOf = t: type "listOf";
    attrsOf = t: type "attrsOf";
    nullOr = t: type "nullOr";
  };

  optional = c: x: if c then [ x ] else [ ];
  optionals = c: xs: if c then xs else [ ];
  optionalAttrs = c: s: if c then s else { };
  optionalString = c: s: if c then s else "";
  concatStringsSep = builtins.concatStringsSep;
  head = builtins.head;
  filter = builtins.filter;
  attrNames = builtins.attrNames;
  attrValues = builtins.attrValues;
  mapAttrs = builtins.mapAttrs;
  listToAttrs = builtins.listToAttrs;
  nameValuePair = name: value: { inherit name value; };
  genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
  removeSuffix = suffix: s:
    let ls = builtins.stringLength s; lx = builtins.stringLength suffix; in
    if lx <= ls && builtins.substring (ls - lx) lx s == suffix then builtins.substring 0 (ls - lx) s else s;
  escapeShellArg = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString s) + "'";
}
