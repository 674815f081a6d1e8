b="--modules 0 --packages --epochs 2 --max-steps 1000 --lora-r 64 --lora-alpha 128 --balance --learning-rate 1e-3 --hard-negatives"
run fin_new $b & run fin_gbd $b --base-dropout & run fin_new_r16 $b --lora-r 16 --lora-alpha 32 & run fin_old_r64 $b --ungrouped --base-dropout & wait
