set terminal pngcairo size 900,540 noenhanced
set output 'echo-rps-unpinned-64.png'
set title 'echo requests/s vs connections, unpinned, 64 B'
set ylabel 'requests/s'
set grid
set key outside right
set xlabel 'connections'
set logscale x
set xrange [50:20000]
set yrange [0:*]
plot 'echo-rps-unpinned-64.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 title 'native threads', \
     'echo-rps-unpinned-64.dat' index 1 using 1:2:3:4 with yerrorlines lw 2 title 'shim', \
     'echo-rps-unpinned-64.dat' index 2 using 1:2:3:4 with yerrorlines lw 2 title 'epoll', \
     'echo-rps-unpinned-64.dat' index 3 using 1:2:3:4 with yerrorlines lw 2 title 'Go'
