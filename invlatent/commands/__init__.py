"""One module per subcommand; ``invlatent.cli`` attaches them to the app."""
