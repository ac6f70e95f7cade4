terraform {
  backend "s3" { # expect: TFPR004
  }
}
