package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/server"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

func serveCommand() *cli.Command {
	return command([]string{"repo"}, &cli.Command{
		Name:      "serve",
		Usage:     "serve the repository over HTTP(S) as a static TUF repository",
		UsageText: "mrepo serve --repo DIR [--addr HOST:PORT] [--addr-file FILE] [--access-log] [--tls-cert FILE --tls-key FILE]",
		Description: `Serves /metadata/... and /targets/... from the repository with range requests
(resumable downloads), long cache lifetimes on versioned metadata and
hash-named targets, and no caching of timestamp.json. Nothing else is served.
Port 0 picks a free port; the address is printed and, with --addr-file,
written to a file once the server is listening. Stops on SIGINT or SIGTERM.
With --tls-cert FILE (PEM: the server certificate, then any intermediate
CA certificates) and --tls-key FILE (its PEM private key) it serves HTTPS
only; devices trust the issuing CA through mclient init --ca-file.

This is for development, tests and small deployments; in production, copy
metadata/ and targets/ to any static host or CDN with the same cache rules.`,
		Flags: []cli.Flag{
			repoFlag,
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "listen `ADDRESS`"},
			&cli.StringFlag{Name: "addr-file", Usage: "write the listening address to `FILE`"},
			&cli.BoolFlag{Name: "access-log", Usage: "log each request to stderr"},
			&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this certificate chain `FILE` (PEM; needs --tls-key)"},
			&cli.StringFlag{Name: "tls-key", Usage: "private key `FILE` (PEM) of --tls-cert"},
		},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			loc := c.String("repo")
			return readRepo(c, true, func(fs afero.Fs, dir string) error {
				if fi, err := fs.Stat(filepath.Join(dir, repo.MetadataDir)); err != nil || !fi.IsDir() {
					return fmt.Errorf("serve: %s has no %s directory", loc, repo.MetadataDir)
				}
				ln, scheme, err := listen(c, c.String("addr"))
				if err != nil {
					return err
				}
				addr := ln.Addr().String()
				var h http.Handler = server.Handler(fs, dir)
				if c.Bool("access-log") {
					h = server.AccessLog(h, c.App.ErrWriter)
				}
				srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
				fmt.Fprintf(c.App.Writer, "Serving %s at %s://%s/ (metadata/ and targets/); Ctrl-C stops\n", loc, scheme, addr)
				return runServer(c, srv, ln, nil, nil)
			})
		},
	})
}

// listen opens the socket of a server command (serve, keyserver) on
// addr (server.Listen): HTTPS when --tls-cert and --tls-key (which go
// together) are given. With --addr-file, the address is written to that
// file once the socket listens. It returns the scheme, http or https.
func listen(c *cli.Context, addr string) (net.Listener, string, error) {
	name := c.Command.Name
	certFile, keyFile := c.String("tls-cert"), c.String("tls-key")
	if (certFile == "") != (keyFile == "") {
		return nil, "", cliutil.Usagef("%s: --tls-cert and --tls-key go together (see mrepo %s --help)", name, name)
	}
	ln, scheme, err := server.Listen(addr, certFile, keyFile)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	if f := c.String("addr-file"); f != "" {
		if err := atomicfs.WriteFile(afero.NewOsFs(), f, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
			ln.Close()
			return nil, "", fmt.Errorf("%s: %w", name, err)
		}
	}
	return ln, scheme, nil
}

// runServer serves (server.Serve) until SIGINT or SIGTERM.
func runServer(c *cli.Context, srv *http.Server, ln net.Listener, hups <-chan os.Signal, onHUP func()) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := server.Serve(ctx, srv, ln, hups, onHUP); err != nil {
		return fmt.Errorf("%s: %w", c.Command.Name, err)
	}
	return nil
}
