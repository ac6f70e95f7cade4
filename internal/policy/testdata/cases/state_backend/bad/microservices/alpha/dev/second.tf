terraform {
  backend "local" { # expect: state-backend
    path = "/tmp/state"
  }
}
