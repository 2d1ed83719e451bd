/* Open and close argv[1] N times, then argv[2] once, then argv[1] N times again. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 3 ? atoi(argv[3]) : 100000;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < n; i++) {
            int fd = open(argv[1], O_RDONLY);
            if (fd >= 0)
                close(fd);
        }
        if (round == 0) {
            int fd = open(argv[2], O_RDONLY);
            if (fd >= 0)
                close(fd);
        }
    }
    return 0;
}
