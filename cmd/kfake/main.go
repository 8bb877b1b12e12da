// Command kfake runs a Kafka-protocol broker (franz-go's kfake) as a process of its own, with the
// topics the commerce bus uses, for running several `commerce serve` processes on one machine
// without a Kafka installation: `make cluster` and the multi-process test start it.
//
// Usage:
//
//	kfake [-port 9092] [-partitions 8] [-data DIR]
//
// It listens on 127.0.0.1 only, prints "kfake listening on ADDR" on stdout once it accepts
// connections, and runs until SIGINT or SIGTERM. Without -data it keeps everything in memory.
// Consumer groups accept session timeouts from 6 s, as a Kafka broker does by default.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/commerce-dev/commerce/infra/bus"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kfake", flag.ContinueOnError)
	port := fs.Int("port", 9092, "port to listen on at 127.0.0.1 (0: any free port)")
	partitions := fs.Int("partitions", 8, "partitions of each topic of the bus")
	data := fs.String("data", "", "directory to keep the log in across restarts (default: memory only)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *partitions < 1 {
		return fmt.Errorf("-partitions %d: want at least 1", *partitions)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(*port),
		kfake.SeedTopics(int32(*partitions), bus.Topics()...),
	}
	if *data != "" {
		opts = append(opts, kfake.DataDir(*data))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("start kfake on port %d: %w", *port, err)
	}
	defer c.Close()
	fmt.Printf("kfake listening on %s\n", c.ListenAddrs()[0])
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
