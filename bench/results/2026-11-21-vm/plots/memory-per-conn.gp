set terminal pngcairo size 900,540 noenhanced
set output 'memory-per-conn.png'
set title 'resident memory per idle connection (RSS + page tables + kernel stacks)'
set ylabel 'KiB per idle connection'
set grid
set key outside right
set style fill solid 0.6
set boxwidth 0.6
set yrange [0:*]
unset key
set xrange [-0.6:4.6]
plot 'memory-per-conn.dat' using 1:3:xtic(2) with boxes, '' using 1:3:4:5 with yerrorbars lc rgb 'black' pt 0
