{ pkgs }: { network = { }; }
