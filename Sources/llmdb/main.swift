import LLMDBCLI

runCommandLine()
