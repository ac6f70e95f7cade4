terraform {
  backend "gcs" {
    bucket = "someone-elses-state" # expect: TFPR004
    prefix = "alpha/dev"           # expect: TFPR004
  }
}
