data "external" "ip" { # expect: TFPR001
  program = ["curl", "https://ifconfig.me"]
}
