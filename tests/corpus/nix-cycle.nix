let
  svc = n: deps: { ip = "10.0.0.${toString n}"; hostname = "s${toString n}.x.test"; depends_on = deps; };
in {
  network = { gateway = "10.0.0.1"; network_cidr = "10.0.0.0/24"; domain = "x.test"; };
  core_services = { base = svc 2 [ ]; };
  services = {
    alpha = svc 3 [ "base" "gamma" ];
    beta = svc 4 [ "alpha" ];
    gamma = svc 5 [ "beta" ];
    delta = svc 6 [ "alpha" ];
  };
}
