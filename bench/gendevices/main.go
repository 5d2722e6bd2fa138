// Command gendevices writes a devices file of N enrolled devices for
// benchmarking mrepo grant (bench/grant.sh): each line a fresh P-256
// device recipient ("age1tag1...", as mclient device-key show prints it)
// and a label. The private keys are thrown away.
//
//	go run ./bench/gendevices -n 100000 > devices.txt
package main

import (
	"bufio"
	"crypto/ecdh"
	"crypto/rand"
	"flag"
	"fmt"
	"os"

	"github.com/edgetuf/edgetuf/modelcrypt"
)

func main() {
	n := flag.Int("n", 1000, "number of devices")
	flag.Parse()
	if *n < 0 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: gendevices [-n N] > devices.txt")
		os.Exit(64)
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "# bench-only devices (private keys discarded)")
	for i := range *n {
		k, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gendevices:", err)
			os.Exit(1)
		}
		r, err := modelcrypt.Recipient(k.PublicKey())
		if err != nil {
			fmt.Fprintln(os.Stderr, "gendevices:", err)
			os.Exit(1)
		}
		fmt.Fprintf(w, "%s device-%06d\n", r, i)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "gendevices:", err)
		os.Exit(1)
	}
}
