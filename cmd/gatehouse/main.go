// Command gatehouse is the Gatehouse gateway and its command-line tools.
package main

import (
	"os"

	"github.com/gatehouse-gw/gatehouse/cmd/gatehouse/cli"
)

func main() { os.Exit(cli.Main()) }
