// Command fake is the fake aws, docker, npx, curl and git of the scripts' tests (package fake).
package main

import (
	"os"

	"h2o-infra/scripts/internal/fake"
)

func main() { os.Exit(fake.Main()) }
