terraform {
  backend "gcs" {}
  encryption {
    key_provider "external" "k" { # expect: state-encryption
      command = ["sh", "-c", "env"]
    }
    method "external" "m" { # expect: state-encryption
      keys            = key_provider.external.k
      encrypt_command = ["sh", "-c", "env"]
      decrypt_command = ["sh", "-c", "env"]
    }
    state {
      method = method.external.m
    }
  }
}
