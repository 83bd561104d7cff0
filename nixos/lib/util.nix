# Small helpers over Nix builtins (nixos/lib must not need nixpkgs).
rec {
  filterAttrs = pred: set:
    builtins.listToAttrs (builtins.concatMap
      (name: if pred name set.${name} then [{ inherit name; value = set.${name}; }] else [ ])
      (builtins.attrNames set));

  # Stable de-duplication, first occurrence wins.
  unique = list:
    builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ] list;

  sortedUnique = list: builtins.sort builtins.lessThan (unique list);

  concatMapStrings = f: list: builtins.concatStringsSep "" (map f list);

  optional = cond: x: if cond then [ x ] else [ ];
  optionals = cond: xs: if cond then xs else [ ];

  # "a.b.c" -> [ "a" "b.c" ] split at the first dot.
  splitFirstDot = s:
    let m = builtins.match "([^.]*)\\.(.*)" s;
    in if m == null then [ s "" ] else m;

  # Parse a decimal integer; throws `what` when it is not one.
  toInt = what: s:
    let m = builtins.match "0*([1-9][0-9]{0,8}|0)" s;
    in if m == null then throw "nixmox: ${what}: \"${s}\" is not a number"
       else builtins.fromJSON (builtins.head m);

  # "host:port" -> { host; port; }
  parseHostPort = what: s:
    let m = builtins.match "([A-Za-z0-9.-]+):([0-9]+)" s;
    in if m == null then throw "nixmox: ${what}: \"${s}\" is not host:port"
       else { host = builtins.elemAt m 0; port = toInt what (builtins.elemAt m 1); };

  # "192.168.99.0/24" -> { address; prefixLength; }
  parseCidr = what: s:
    let m = builtins.match "([0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+)/([0-9]+)" s;
    in if m == null then throw "nixmox: ${what}: \"${s}\" is not an IPv4 CIDR"
       else { address = builtins.elemAt m 0; prefixLength = toInt what (builtins.elemAt m 1); };

  indent = prefix: text:
    builtins.concatStringsSep "\n"
      (map (l: if l == "" then l else prefix + l)
        (builtins.filter builtins.isString (builtins.split "\n" text)));
}
