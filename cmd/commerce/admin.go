package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/commerce-dev/commerce/infra/auth"
)

// supervisorPasswordEnv is the variable create-supervisor reads the password from when set. A
// password is never a flag: flags are visible to every user of the host in the process list.
const supervisorPasswordEnv = "SUPERVISOR_PASSWORD"

// adminCmd is `commerce admin create-supervisor`: the production path to a first supervisor
// (seed refuses production).
func (c *cli) adminCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Administer accounts",
		RunE:  groupRunE,
	}
	var in auth.NewAccount
	create := &cobra.Command{
		Use:   "create-supervisor --email EMAIL --name NAME [--phone PHONE]",
		Short: "Create a supervisor account (password from " + supervisorPasswordEnv + " or the first line of stdin)",
		Long: "Create a supervisor account, in any ENV, production included. The password is read from\n" +
			supervisorPasswordEnv + " when set, else from the first line of standard input; never from a flag.\n" +
			"An existing supervisor with that e-mail is left unchanged.",
		Args: cobra.NoArgs,
		RunE: c.withConfig(func(ctx context.Context, _ []string) error {
			password, err := readPassword(c.getenv(supervisorPasswordEnv), c.stdin)
			if err != nil {
				return err
			}
			in.Password = password
			return c.createSupervisor(ctx, in)
		}),
	}
	create.Flags().StringVar(&in.Email, "email", "", "the supervisor's e-mail address (required)")
	create.Flags().StringVar(&in.Name, "name", "", "the supervisor's name (required)")
	create.Flags().StringVar(&in.Phone, "phone", "", "the supervisor's phone number")
	_ = create.MarkFlagRequired("email")
	_ = create.MarkFlagRequired("name")
	cmd.AddCommand(create)
	return cmd
}

// readPassword returns fromEnv when set, else the first line of stdin.
func readPassword(fromEnv string, stdin io.Reader) (string, error) {
	if fromEnv != "" {
		return fromEnv, nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("no password: set " + supervisorPasswordEnv + " or write it on stdin")
	}
	return password, nil
}

func (c *cli) createSupervisor(ctx context.Context, in auth.NewAccount) error {
	a, err := openApp(ctx, c.cfg, c.log)
	if err != nil {
		return err
	}
	defer a.close()
	c.mask = redactor(append(c.cfg.secrets(), in.Password))
	id, err := a.auth.EnsureSupervisor(ctx, in)
	if err != nil {
		return fmt.Errorf("create supervisor %s: %w", in.Email, err)
	}
	c.log.Info("supervisor ready", "email", in.Email, "id", id.String())
	return nil
}
