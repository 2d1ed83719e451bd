/* argv[1] times PTRACE_PEEKUSER on a stopped child (requests no rule asks for), then one
 * PTRACE_POKEUSER (which rules ask for): a debugger's traffic around one write into a process. */
#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    pid_t child = fork();
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    for (int i = 0; i < n; i++)
        ptrace(PTRACE_PEEKUSER, child, 0, 0);
    ptrace(PTRACE_POKEUSER, child, 0, 0);
    ptrace(PTRACE_CONT, child, 0, 0);
    waitpid(child, &status, 0);
    return 0;
}
